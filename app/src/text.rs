//! The interface's own words, in Chinese and English. Form labels live with the forms.

use shared::i18n::L;

pub const APP_TITLE: L = L::new("妇检联络", "Liaison");
pub const APP_SUBTITLE: L = L::new("案件线索与协作记录", "Case clues and joint work records");
pub const SWITCH_LANG: L = L::new("English", "中文");
pub const RECORDS: L = L::new("本机记录", "Records on this device");
pub const EMPTY_LIST: L = L::new(
    "本机还没有记录。请在上方选择要填写的表单，例如“案件线索登记”。",
    "No records on this device yet. Choose a form above to start, for example “Case clue intake”.",
);
pub const EMPTY_LIST_SYNCING: L = L::new("正在从服务器取回本单位的记录…", "Fetching your organisation's records from the server…");
pub const RECORDS_GONE: L = L::new(
    "{n} 条记录已不再共享给本单位（共享已撤回，或案件已退回、撤回），已从本设备删除。",
    "{n} records are no longer shared with your organisation (the share was withdrawn, or the case returned or withdrawn) and were removed from this device.",
);
pub const RECORDS_GONE_ONE: L = L::new(
    "1 条记录已不再共享给本单位（共享已撤回，或案件已退回、撤回），已从本设备删除。",
    "1 record is no longer shared with your organisation (the share was withdrawn, or the case returned or withdrawn) and was removed from this device.",
);
pub const RECORD_GONE: L = L::new(
    "此记录已不再共享给本单位（共享已撤回，或案件已退回、撤回），已从本设备删除。",
    "This record is no longer shared with your organisation (the share was withdrawn, or the case returned or withdrawn) and was removed from this device.",
);
pub const FILTER_STAGE: L = L::new("办理进度", "Case stage");
pub const SHOW_MORE: L = L::new("再显示 50 条", "Show 50 more");
pub const NO_CODE: L = L::new("（未填编号）", "(no code yet)");
pub const DRAFT: L = L::new("草稿", "Draft");
pub const UPDATED: L = L::new("更新于", "Updated");
pub const BACK: L = L::new("← 返回列表", "← Back to list");
pub const LOADING: L = L::new("正在读取…", "Loading…");
pub const OPENING_PAGE: L = L::new("正在打开记录页…", "Opening the record page…");
pub const PAGE_LOAD_FAILED: L =
    L::new("记录页无法载入。请连接网络后重试。", "The record page could not be loaded. Connect to the network and try again.");
/// Shown after "同步出错：" when the sync code itself could not be loaded (no cache, no network).
pub const SYNC_UNAVAILABLE: &str = "同步模块未能载入，稍后自动重试 / the sync module could not be loaded; retrying shortly";
pub const RETRY: L = L::new("重试", "Try again");
pub const SAVING: L = L::new("正在保存…", "Saving…");
pub const SAVED: L = L::new("已保存在本机", "Saved on this device");
pub const SAVE_FAILED: L = L::new("保存失败：", "Could not save: ");
pub const NOT_SAVED_FIELD: L = L::new("此项尚未保存：", "Not saved: ");
pub const AUTOSAVE_NOTE: L = L::new("填写内容会自动保存，无需点击保存。", "What you type is saved automatically; there is no save button.");
pub const STORAGE_FAILED: L = L::new("无法打开本机存储：", "This device's storage could not be opened: ");
pub const LIST_DAMAGED: L = L::new("有记录摘要无法读取：", "A record summary could not be read: ");
pub const RECORD_FAILED: L = L::new("无法打开此记录：", "This record could not be opened: ");
pub const DAMAGED_CHUNKS: L = L::new(
    "此记录有部分修改在本机存储中已损坏，无法读取；其余内容正常显示。损坏的数据保留未删。",
    "Some changes to this record are damaged in this device's storage and could not be read; the rest is shown. The damaged data is kept, not deleted.",
);
pub const STORAGE: L = L::new("本机存储", "Storage");
pub const PERSISTENT_YES: L = L::new("已获持久保存许可", "persistent: the browser will not clear it");
pub const PERSISTENT_NO: L = L::new(
    "未获持久保存许可，浏览器在空间不足时可能清除数据，请尽快同步",
    "not persistent: the browser may clear it when space runs low; sync soon",
);
pub const PERSISTENT_UNKNOWN: L = L::new("正在询问浏览器…", "asking the browser…");
pub const USED: L = L::new("已用", "used");
pub const OF: L = L::new("共", "of");
pub const OFFLINE_READY: L = L::new("可离线启动", "Starts offline");
pub const OFFLINE_NOT_READY: L = L::new("离线启动未就绪", "Offline start not ready");
pub const NETWORK_ONLINE: L = L::new("在线", "Online");
pub const NETWORK_OFFLINE: L = L::new("离线，可继续填写", "Offline: keep working");
pub const SYNC_SIGNED_OUT: L = L::new("未登录：记录只存于本机", "Not signed in: records stay on this device");
pub const SYNC_EXPIRED: L =
    L::new("登录已过期，请重新登录（本机记录不受影响）", "Session expired: sign in again (records on this device are safe)");
pub const SYNC_OFFLINE: L = L::new("离线：联网后自动同步", "Offline: will sync when back online");
pub const SYNC_CONNECTING: L = L::new("正在连接服务器…", "Connecting…");
pub const SYNC_SYNCING: L = L::new("正在同步", "Syncing");
pub const DETAILS: L = L::new("详情", "Details");
pub const LESS: L = L::new("收起", "Less");
pub const SYNC_UP_TO_DATE: L = L::new("已同步", "Up to date");
pub const SYNC_ERROR: L = L::new("同步出错：", "Sync error: ");
pub const SIGN_IN: L = L::new("登录", "Sign in");
pub const SIGN_OUT: L = L::new("退出登录", "Sign out");
pub const SIGNED_IN_AS: L = L::new("当前用户：", "Signed in as ");
pub const USERNAME: L = L::new("用户名", "Username");
pub const PASSWORD: L = L::new("密码", "Password");
pub const SIGN_IN_NOTE: L = L::new(
    "登录需要联网；登录后即使离线也可继续使用，联网时自动同步。",
    "Signing in needs a network; afterwards the app works offline and syncs when it can.",
);
pub const SIGN_IN_FAILED: L = L::new("登录失败：", "Could not sign in: ");
pub const WRONG_PASSWORD: L = L::new("用户名或密码不对", "wrong username or password");
pub const TOO_MANY_ATTEMPTS: L = L::new("密码错误次数过多，请 {s} 秒后再试", "too many wrong passwords; try again in {s} s");
pub const SERVER_UNREACHABLE: L =
    L::new("连不上服务器，请检查网络后再试", "the server could not be reached; check the network and try again");
pub const ON_SERVER: L = L::new("服务器已有最新内容", "Server has the latest");
pub const NOT_ON_SERVER: L = L::new("尚未同步到服务器", "Not yet on the server");
pub const SHARE_WITH: L = L::new("共享给", "Share with");
pub const SHARE: L = L::new("共享", "Share");
pub const CHOOSE_ORG_FIRST: L = L::new("请先选择要共享的单位", "Choose an organisation first");
pub const SHARE_CONFIRM_1: L = L::new("确认把此记录共享给", "Share this record with ");
pub const SHARE_CONFIRM_2: L = L::new(
    "？对方将能查看和修改全部内容，包括当事人信息。",
    "? They will be able to read and change all of it, including the survivor's details.",
);
pub const SHARE_CONFIRM_YES: L = L::new("确认共享", "Yes, share");
pub const WITHDRAW_SHARE: L = L::new("撤回共享", "Withdraw");
pub const SHARED_WITH: L = L::new("已共享给：", "Shared with: ");
pub const NOT_SHARED: L = L::new("尚未与其他单位共享", "Not shared with other organisations");
pub const SHARE_NEEDS_SYNC: L = L::new("同步到服务器后才能共享", "Sync to the server before sharing");
pub const SHARE_FAILED: L = L::new("共享失败：", "Could not share: ");
pub const CHOOSE: L = L::new("请选择", "Choose");
pub const YES: L = L::new("是", "Yes");
pub const NO: L = L::new("否", "No");

// ----- New records and the list -----
pub const NEW_RECORD: L = L::new("新建记录", "New record");
pub const NEW_RECORD_NOTE: L = L::new(
    "选择要填写的表单。没有网络也能填写，内容随填随存在本机。",
    "Choose a form. It works without a network and saves on this device as you type.",
);
pub const SEARCH: L = L::new("搜索编号或类别", "Search codes and categories");
// The search box has no visible label (the placeholder says what it searches) so that it
// shares one line with the filters button on a phone; `SEARCH` is its accessible name. The
// English is short enough to fit beside "Filters (2)" at 360 px.
pub const SEARCH_PLACEHOLDER: L = L::new("搜索编号或类别", "Code or category");
/// The button that shows and hides the other filters; the number of those in use follows.
pub const FILTERS: L = L::new("筛选", "Filters");
pub const FILTER_KIND: L = L::new("记录类型", "Kind");
pub const FILTER_STATUS: L = L::new("状态", "Status");
pub const FILTER_FROM: L = L::new("更新日期起", "Updated from");
pub const FILTER_TO: L = L::new("更新日期止", "Updated until");
pub const ALL: L = L::new("全部", "All");
pub const CLEAR_FILTERS: L = L::new("清除筛选", "Clear filters");
pub const NO_MATCH: L = L::new(
    "没有符合筛选条件的记录。可以换个关键词，或清除筛选。",
    "No records match these filters. Try other words, or clear the filters.",
);
pub const SHOWING: L = L::new("条记录", "records");
pub const SHOWING_ONE: L = L::new("条记录", "record");
pub const LIST_NOTE: L = L::new("列表只显示编号，不显示姓名。", "Lists show codes, never names.");

// ----- Status and sync state -----
pub const COMPLETE: L = L::new("已完成", "Complete");
pub const REFUSED: L = L::new("服务器拒绝了此记录（无访问权限）", "The server refused this record (no access)");
pub const REJECTED: L = L::new(
    "服务器暂未接收此记录，记录仍保存在本机，稍后会再次发送：",
    "The server did not take this record; it stays on this device and is sent again later: ",
);

// ----- Fields -----
pub const ITEM: L = L::new("第 {n} 项", "Item {n}");
pub const ADD_ITEM: L = L::new("添加一项", "Add an item");
pub const REMOVE_ITEM: L = L::new("删除此项", "Remove this item");
pub const CONFIRM_REMOVE: L = L::new("确认删除", "Yes, remove it");
pub const CANCEL: L = L::new("取消", "Cancel");
pub const NO_ITEMS: L = L::new("暂无，可点击下方按钮添加。", "None yet; add one with the button below.");
pub const CHOOSE_FILE: L = L::new("选择文件或拍照", "Choose a file or take a photo");
pub const REPLACE_FILE: L = L::new("重新选择文件", "Choose another file");
pub const REMOVE_FILE: L = L::new("移除文件", "Remove the file");
pub const PROCESSING: L = L::new("正在处理并保存到本机…", "Processing and saving on this device…");
pub const PHOTO_SHRUNK: L = L::new("照片已压缩后保存", "The photo was made smaller before saving");
pub const UPLOAD_WAITING: L = L::new("已保存在本机，等待上传", "Saved on this device, waiting to upload");
pub const UPLOAD_LOCAL_ONLY: L = L::new("仅保存在本机（登录后自动上传）", "Only on this device (uploads once you sign in)");
pub const UPLOAD_DONE: L = L::new("已上传到服务器", "On the server");
pub const FILE_MISSING: L = L::new(
    "本机没有此文件，服务器上也还没有（可能尚未从对方设备上传）",
    "This file is not on this device and not on the server yet (the other device may not have uploaded it)",
);
pub const FILE_UNREACHABLE: L = L::new("暂时无法取得此文件：", "The file cannot be fetched right now: ");
pub const FILE_TOO_LARGE: L = L::new(
    "文件太大：服务器最多接收 {max}，此文件有 {size}。请压缩或拆分后再选。",
    "The file is too large: the server takes at most {max} and this one is {size}. Compress or split it first.",
);
pub const FILE_NOT_ACCEPTED: L = L::new("此处不接收此类文件，可接收：", "This kind of file is not accepted here. Accepted: ");
pub const FILE_READ_FAILED: L = L::new("无法读取此文件：", "The file could not be read: ");
pub const FILE_SAVE_FAILED: L = L::new("无法保存到本机：", "Could not save on this device: ");
pub const UPLOAD_ERROR: L = L::new("上传出错：", "Upload error: ");
pub const OPEN_FILE: L = L::new("打开文件", "Open the file");
pub const SIGN_HERE: L = L::new("请用手指或鼠标在框内签名", "Sign in the box with a finger or the mouse");
pub const SIGNATURE_PAD: L = L::new("签名板", "Signature pad");
pub const CLEAR: L = L::new("清除", "Clear");
pub const SAVE_SIGNATURE: L = L::new("保存签名", "Save signature");
pub const SIGN_AGAIN: L = L::new("重新签名", "Sign again");

// ----- Concurrent values -----
pub const CONFLICT_COUNT: L = L::new("{n}个值：", "{n} values were entered: ");
pub const CONFLICT_NOTE: L =
    L::new("离线期间有人填写了不同内容，请确认采用哪一个：", "Different values were entered while offline; choose the one to keep:");
pub const USE_VALUE: L = L::new("采用", "Use");
pub const EMPTY_VALUE: L = L::new("（空）", "(empty)");
pub const UNKNOWN_AUTHOR: L = L::new("未知填写人", "unknown author");

// ----- Mark complete -----
pub const MARK_COMPLETE: L = L::new("标记为完成", "Mark complete");
pub const MARKED_COMPLETE: L =
    L::new("已标记为完成。之后如有修改，记录会变回草稿。", "Marked complete. Any later edit makes it a draft again.");
pub const ALREADY_COMPLETE: L = L::new("此记录已完成。如有修改，会变回草稿。", "This record is complete. Any edit makes it a draft again.");
pub const CHECK_FAILED: L =
    L::new("还有 {n} 处需要补充或修改，尚未标记为完成：", "{n} things need attention before this can be marked complete:");
pub const CHECK_FAILED_SHORT: L =
    L::new("尚未完成：还有 {n} 处需要处理，见页面上方的清单。", "Not complete yet: {n} things need attention, listed at the top.");
pub const CHECK_ALL_FIXED: L = L::new("问题都已处理，可以再次点击“标记为完成”。", "Everything is fixed: press “Mark complete” again.");
pub const RETIRED_NOTE: L = L::new("以下内容来自旧版表单，只读：", "From an older version of this form, read only:");

// ----- agreements -----
pub const AG_TITLE: L = L::new("标题", "Title");
pub const AG_PREAMBLE: L = L::new("序言", "Preamble");
pub const AG_EFFECTIVE: L = L::new("生效日期", "Effective date");
pub const AG_TERM: L = L::new("期限", "Term");
pub const AG_CLAUSES: L = L::new("条款", "Clauses");
pub const AG_NO_CLAUSES: L = L::new("还没有条款。点“添加条款”开始起草。", "No clauses yet. Use “Add clause” to start drafting.");
pub const AG_ADD_CLAUSE: L = L::new("添加条款", "Add clause");
pub const AG_CLAUSE_HEADING: L = L::new("条款标题", "Clause heading");
pub const AG_CLAUSE_BODY: L = L::new("条款内容", "Clause text");
pub const AG_MOVE_UP: L = L::new("上移", "Move up");
pub const AG_MOVE_DOWN: L = L::new("下移", "Move down");
pub const AG_REMOVE_CLAUSE: L = L::new("删除条款", "Remove clause");
pub const AG_PARTIES: L = L::new("协议各方", "Parties");
pub const AG_ADD_PARTY: L = L::new("添加协议方（同时共享本协议）", "Add a party (this shares the agreement with it)");
pub const AG_ADD: L = L::new("添加", "Add");
pub const AG_PARTY_SIGNED: L = L::new("已签署当前文本", "signed this text");
pub const AG_PARTY_SIGNED_EARLIER: L = L::new("签署的是旧文本", "signed an earlier text");
pub const AG_PARTY_NOT_SIGNED: L = L::new("尚未签署", "not signed yet");
pub const AG_DRAFTING: L = L::new("起草中", "Drafting");
pub const AG_AWAITING: L = L::new("待签署", "Awaiting signatures");
pub const AG_IN_FORCE: L = L::new("已生效：各方均已签署当前文本", "In force: every party signed this text");
pub const AG_OUTDATED: L = L::new("签署已失效：文本在签署后有改动", "Signatures outdated: the text changed after signing");
pub const AG_WAITING_FOR: L = L::new("尚待签署：", "Waiting for: ");
pub const AG_PROPOSE: L = L::new("提交签署（各方签署的是现在这一版文本）", "Propose for signature (parties sign the text as it is now)");
pub const AG_PROPOSE_AGAIN: L = L::new(
    "文本已改动，旧签署不再有效。请先“提交签署”这一版新文本，各方再重新签署。",
    "The text changed, so the earlier signatures no longer count. Propose the new text for signature, then every party signs again.",
);
pub const AG_NEW_TEXT_PROPOSED: L = L::new("新文本已提交签署。", "The new text has been proposed. ");
pub const AG_PROPOSED: L = L::new("已提交签署。各方可以签署这一版本。", "Proposed. Each party can now sign this version.");
pub const AG_PROPOSAL: L = L::new("待签文本指纹", "Proposal fingerprint");
pub const AG_SIGN: L = L::new("以本单位名义签署", "Sign for my organisation");
pub const AG_SIGN_AGAIN: L = L::new("再次发送签署", "Send the signature again");
pub const AG_SIGNED: L = L::new("已签署，服务器已核验并留存", "Signed; the server checked and keeps it");
pub const AG_SIGN_PENDING: L =
    L::new("已签署并保存在本机，但服务器尚未接收：", "Signed and kept on this device, but the server has not accepted it yet: ");
pub const AG_SIGN_QUEUED: L = L::new(
    "已签署并保存在本机。联网后会自动发送给服务器核验。",
    "Signed and kept on this device. It is sent to the server to be checked as soon as there is a network.",
);
pub const AG_SIGN_FAILED: L = L::new("签署失败：", "Signing failed: ");
pub const AG_SIGN_IN_FIRST: L = L::new("请先登录，再提交或签署。", "Sign in first to propose or sign.");
pub const AG_CHANGED_SINCE_SIGNED: L = L::new(
    "自上次签署以来的改动（删除线为删去，下划线为新增）：",
    "Changed since it was last signed (struck out: removed; underlined: added):",
);
pub const AG_PRINT: L = L::new("打印", "Print");
pub const AG_SIGNATORY: L = L::new("签署人", "Signatory");
pub const AG_SIGNED_AT: L = L::new("签署时间", "Signed at");
pub const AG_KEY: L = L::new("密钥指纹", "Key fingerprint");
pub const AG_VERIFY_NOTE: L = L::new(
    "核验方法：在本系统中打开本协议，或向服务器查询 /api/docs/<编号>/signatures，用签署人密钥（/api/keys）按 Ed25519 核验签名；待签文本指纹为协议内容的 SHA-256 前缀。",
    "To verify: open this agreement in liaison, or fetch /api/docs/<id>/signatures and check each Ed25519 signature with the signer's key from /api/keys; the proposal fingerprint is the start of the SHA-256 of the agreement's content.",
);
pub const AG_NOT_AN_AGREEMENT: L = L::new("这份记录的协议部分无法读取。", "The agreement part of this record cannot be read.");
pub const AG_HISTORY: L = L::new("修改历史", "History");
pub const AG_CHANGES: L = L::new("{n} 处修改", "{n} changes");
pub const AG_CHANGE_ONE: L = L::new("1 处修改", "1 change");
pub const AG_COMPARE: L = L::new("与现在比较", "Compare with now");
pub const AG_CHANGED_SINCE_VERSION: L =
    L::new("自该版本以来的改动（删除线为删去，下划线为新增）：", "Changed since that version (struck out: removed; underlined: added):");
pub const AG_UNVERIFIED_AUTHOR: L = L::new("未经服务器确认的设备", "a device the server has not vouched for");
pub const AG_INVALID: L = L::new("以下签名无效，不计入：", "These signatures are not valid and do not count:");
pub const AG_INVALID_PROPOSAL: L = L::new("所签的待签文本被篡改或不存在", "the proposal it signs was altered or does not exist");
pub const AG_INVALID_UNKNOWN_VERSION: L = L::new("所签版本尚未同步到本机", "the version it signs has not reached this device yet");
pub const AG_INVALID_NOT_A_PARTY: L = L::new("签署单位不是协议方", "its organisation is not a party");
pub const AG_INVALID_KEY: L = L::new("密钥不属于签署人或其单位", "the key is not the signer's or their organisation's");
pub const AG_INVALID_KEY_TIME: L =
    L::new("签署时密钥无效（已撤销或尚未登记）", "the key was not valid then (revoked, or not yet registered)");
pub const AG_INVALID_SIGNATURE: L = L::new("签名与内容不符（被篡改或伪造）", "the signature does not match (altered or forged)");
pub const AG_PRESENCE_EDITING: L = L::new("正在编辑", "is editing ");
pub const AG_PRESENCE_VIEWING: L = L::new("正在查看本协议", "has it open");

// ----- case work (移送、受理、反馈；委托调查) -----
pub const CASE_TITLE: L = L::new("办理进程", "Case progress");
pub const CASE_WAITING_FOR: L = L::new("待办单位：", "Next to act: ");
pub const CASE_DUE: L = L::new("期限：", "Due: ");
pub const CASE_OVERDUE: L = L::new("已逾期", "Overdue");
pub const CASE_TO: L = L::new("移送/委托至：", "To: ");
pub const CASE_TOOK: L = L::new("用时 ", "took ");
pub const CASE_RECEIVED_AT: L = L::new("服务器收到：", "on the server ");
pub const CASE_NOT_SYNCED: L = L::new("尚未同步到服务器", "not yet on the server");
pub const CASE_VOID: L = L::new("未计入：", "Did not count: ");
pub const CASE_REVIEW: L = L::new(
    "有操作与另一单位同时进行的操作冲突，未计入（见上方标记）。请双方核对后再继续。",
    "A step was taken at the same time as another organisation's and did not count (marked above). Please check with each other before going on.",
);
pub const CASE_NEEDS: L = L::new("：尚不能进行，", ": not possible yet, ");
pub const CASE_NEEDS_CONSENT: L = L::new(
    "需先在表中记录当事人同意；未成年人需记录法律依据。",
    "record the survivor's consent in the form first; for a minor, the legal basis.",
);
pub const CASE_NEEDS_MINOR: L = L::new("仅适用于性侵未成年人案件。", "only for sexual assault of a minor.");
pub const CASE_NEEDS_FIELDS: L = L::new("请先填写表中的必填项。", "fill in the form's required fields first.");
pub const CASE_DATE: L = L::new("日期", "Date");
pub const CASE_OUTCOME: L = L::new("办理结果", "Outcome");
pub const CASE_REASON: L = L::new("原因", "Reason");
pub const CASE_TEXT_NOTE: L = L::new(
    "请只写办理情况，不写当事人姓名、电话等身份信息。",
    "Write what was done only; no survivor's name, phone number or other identifying details.",
);
pub const CASE_TEXT_NOTE_REASON: L = L::new(
    "请写明原因，对方会看到；不写当事人姓名、电话等身份信息。",
    "Say why; the other side will read it. No survivor's name, phone number or other identifying details.",
);
pub const CASE_TEXT_NOTE_WITHDRAW: L = L::new(
    "原因记入本记录的办理经过；撤回后对方不再能查看本记录，请另行告知对方。不写当事人姓名、电话等身份信息。",
    "The reason stays in this record's history; once withdrawn the other side can no longer read the record, so tell them separately. No survivor's name, phone number or other identifying details.",
);
pub const CASE_NOT_OURS: L = L::new(
    "这一步发给与本单位同类的单位（例如委托由检察院发给妇联），本单位不能发出。",
    "This step goes to an organisation of our own kind (an entrustment goes from a procuratorate to a federation); we cannot send it.",
);
pub const CASE_DUE_ASKED: L = L::new("委托方要求的报告期限", "report date asked by the sender");
pub const CASE_DUE_PAST: L =
    L::new("报告期限已过，请选择今天或以后的日期。", "The report due date has passed; choose today or a later date.");
pub const LIST_SEP: L = L::new("、", ", ");
pub const CASE_MISSING: L = L::new("请先填写：", "Please fill in first: ");
pub const CASE_TO_NAME: L = L::new("接收单位", "Receiving organisation");
pub const FIELD_FIXED: L =
    L::new("此项已随案件流程发给对方，不能再改。", "Sent to the other side with a case step; it can no longer be changed.");
pub const FIELD_THEIRS: L =
    L::new("此项由对方单位填写，本单位不能修改。", "This is the other organisation's to fill in; we cannot change it.");
pub const CASE_NO_RECEIVER: L = L::new(
    "没有可接收的单位：请先联网一次取得单位名单；若仍没有，请管理员在服务器上登记接收单位的类型。",
    "No organisation of the kind this step goes to: connect once to fetch the list of organisations; if it is still empty, ask the administrator to register the receiving organisation's kind on the server.",
);
pub const CASE_UNDER_A_MINUTE: L = L::new("不到 1 分钟", "under a minute");
pub const CASE_CONFIRM: L = L::new("确认", "Confirm");
pub const CASE_STEP_SAVED: L = L::new(
    "已记录在本机；办理经过中会显示是否已同步到服务器。",
    "Recorded on this device; the timeline shows whether the server has it yet.",
);
pub const CASE_SIGN_IN: L = L::new("请先登录。", "Sign in first.");
pub const CASE_DEADLINES_NOTE: L = L::new(
    "期限为本地工作机制设定的默认值（委托时另定报告期限的，以委托为准），不是法定期限；时间均为北京时间。",
    "Deadlines are this mechanism's local settings (or the report date an entrustment asked for), not legal time limits; times are China Standard Time.",
);
pub const INBOX: L = L::new("待办", "Inbox");
pub const INBOX_ARIA: L = L::new("待办：{n} 项", "Inbox: {n} waiting");
pub const INBOX_TITLE: L = L::new("待本单位办理", "Awaiting our organisation");
pub const INBOX_EMPTY: L = L::new(
    "没有待办事项。移送、委托或退回给本单位的案件会出现在这里。",
    "Nothing awaits you. Cases transferred, entrusted or returned to your organisation appear here.",
);
pub const INBOX_NO_DUE: L = L::new("无期限", "no deadline");

pub const AUDIT: L = L::new("审计", "Audit");
pub const AUDIT_TITLE: L = L::new("谁查看或更改了本单位的记录", "Who read or changed our records");
pub const AUDIT_INTRO: L = L::new(
    "服务器为每次登录、查看、新建、修改、共享、撤回共享、下载附件、签署、导出和打印留下一条不可更改的记录，只含账号、单位、设备和记录编号，不含记录内容。仅本单位管理员可见。",
    "The server keeps an unalterable row for every sign-in, read, new record, change, share, withdrawn share, file download, signature, export and print: accounts, organisations, devices and record ids only, never what a record says. Only our administrator sees it.",
);
pub const AUDIT_RECORD: L = L::new("记录", "Record");
pub const AUDIT_RECORD_FILTER: L = L::new("记录（编号）", "Record (code)");
pub const AUDIT_NO_SUCH_CODE: L = L::new("本设备上没有编号为“{c}”的记录。", "No record with the code “{c}” on this device.");
pub const AUDIT_CODE_TWICE: L = L::new(
    "本设备上有 {n} 条记录编号为“{c}”：请打开要查的那一条，输入其页面顶部的记录标识。",
    "{n} records on this device have the code “{c}”: open the one you mean and enter the id at the top of its page.",
);
pub const AUDIT_PERSON: L = L::new("账号", "Account");
pub const AUDIT_FROM: L = L::new("起始日期", "From");
pub const AUDIT_TO: L = L::new("截止日期", "To");
pub const AUDIT_APPLY: L = L::new("筛选", "Filter");
pub const AUDIT_WHEN: L = L::new("时间", "When");
pub const AUDIT_WHAT: L = L::new("操作", "What");
pub const AUDIT_ORG: L = L::new("单位", "Organisation");
pub const AUDIT_DETAIL: L = L::new("对象", "To whom");
pub const AUDIT_DEVICE: L = L::new("设备", "Device");
pub const AUDIT_EMPTY: L = L::new("没有符合条件的审计记录。", "No audit rows match.");
pub const AUDIT_OLDER: L = L::new("更早的记录", "Older rows");
pub const AUDIT_OFFLINE: L =
    L::new("审计记录保存在服务器上，联网后才能查看。", "The audit trail is kept on the server; connect to see it.");
pub const AUDIT_SIGN_IN: L = L::new("登录", "Signed in");
pub const AUDIT_SIGN_IN_FAILED: L = L::new("登录失败", "Sign-in failed");
pub const AUDIT_READ: L = L::new("查看", "Read");
pub const AUDIT_CREATED: L = L::new("新建", "Created");
pub const AUDIT_SHARE: L = L::new("共享", "Shared");
pub const AUDIT_UNSHARE: L = L::new("撤回共享", "Withdrew share");
pub const AUDIT_WRITE: L = L::new("修改", "Changed");
pub const AUDIT_DOWNLOAD: L = L::new("下载附件", "Downloaded a file");
pub const AUDIT_STEP: L = L::new("办理步骤", "Case step");
pub const AUDIT_SIGN: L = L::new("签署", "Signed");
pub const AUDIT_EXPORT: L = L::new("导出", "Exported");
pub const AUDIT_PRINT: L = L::new("打印", "Printed");
pub const AUDIT_EXPORT_CSV: L = L::new("导出所列记录（CSV）", "Export the rows shown (CSV)");
pub const AUDIT_OTHERS: L = L::new("只看其他单位", "Other organisations only");
pub const AUDIT_OTHER: L = L::new("其他", "Other");

pub const STATS: L = L::new("统计", "Figures");
pub const STATS_TITLE: L = L::new("统计", "Figures");
pub const STATS_NOTE: L = L::new(
    "按登记时间（北京时间）统计本设备上本单位的记录；离线也可查看。点击数字可查看对应的记录。",
    "Counts of your organisation's records on this device, by when each was recorded (China Standard Time); works offline. Select a number to see its records.",
);
pub const STATS_FROM: L = L::new("登记日期起", "Recorded from");
pub const STATS_TO: L = L::new("登记日期止", "Recorded to");
pub const STATS_PERIOD: L = L::new("统计周期", "Period");
pub const STATS_MONTH: L = L::new("按月", "By month");
pub const STATS_QUARTER: L = L::new("按季度", "By quarter");
pub const STATS_YEAR: L = L::new("按年", "By year");
pub const STATS_PRINT: L = L::new("打印", "Print");
pub const STATS_EMPTY: L = L::new("所选范围内没有记录。", "No records in this choice.");
pub const STATS_TOTAL: L = L::new("合计", "Total");
pub const STATS_MEDIAN: L = L::new("已办结 {n} 件，从移送到办结中位数 {d} 天", "{n} closed, median {d} days from transfer to close");
pub const STATS_BY_PERIOD: L = L::new("按时间", "By period");
pub const STATS_BY_KIND: L = L::new("按类别", "By kind");
pub const STATS_BY_STATUS: L = L::new("按状态", "By status");
pub const STATS_BY_CATEGORY: L = L::new("按类型", "By type");
pub const STATS_BY_STAGE: L = L::new("按办理进度", "By case stage");
pub const STATS_EXPORT: L = L::new("导出表格（CSV）", "Export the table (CSV)");
pub const STATS_GROUP: L = L::new("分组", "Group");
pub const STATS_ITEM: L = L::new("项目", "Item");
pub const STATS_COUNT: L = L::new("数量", "Count");
pub const STATS_NONE: L = L::new("（未填）", "(not given)");
pub const STATS_FIGURES: L = L::new("主要数字", "Key figures");
pub const STATS_CHOOSE_KIND: L = L::new(
    "选择记录类型，可查看该类记录的主要数字（如调解成功件数、培训时长和参训人次）。",
    "Choose a kind of record for its key figures (disputes resolved, hours of training, attendees).",
);
pub const STATS_IN_RECORDS: L = L::new("{n} 条记录", "{n} records");
pub const STATS_REVERSED: L = L::new("结束日期早于开始日期，请改正。", "The end date is before the start date; please correct it.");
pub const STATS_SCOPE_ALL_DATES: L = L::new("全部日期", "All dates");
pub const LIST_SELECTION: L = L::new("统计", "From the figures");
pub const LIST_SELECTION_CLEAR: L = L::new("显示全部记录", "Show all records");

pub const EXPORT: L = L::new("导出", "Export");
pub const EXPORT_TITLE: L = L::new("导出列表中的 {n} 条记录", "Export the {n} records in the list");
pub const EXPORT_FORMAT: L = L::new("文件格式", "File format");
pub const EXPORT_PERSONAL: L = L::new("包含姓名、电话等个人信息", "Include names, phone numbers and other personal details");
pub const EXPORT_REASON: L = L::new("为什么需要个人信息？（将记入审计）", "Why are the personal details needed? (kept in the audit trail)");
pub const EXPORT_REASON_CHOOSE: L = L::new("请选择理由", "Choose a reason");
pub const EXPORT_CONFIRM: L = L::new(
    "我确认：文件将含有可识别当事人的信息，我会妥善保管，不外传。",
    "I confirm: the file will identify people; I will keep it safe and pass it to no one without need.",
);
pub const EXPORT_NOTE: L = L::new(
    "不含姓名、电话、住址等个人信息；每次导出都会记入审计。",
    "Names, phone numbers, addresses and other personal details are left out; every export is kept in the audit trail.",
);
pub const EXPORT_NOTE_PERSONAL: L = L::new(
    "文件将含有个人信息。导出及其理由都会记入审计。",
    "The file will hold personal details. The export and its reason are kept in the audit trail.",
);
pub const EXPORT_GO: L = L::new("导出", "Export");
pub const EXPORT_CLOSE: L = L::new("关闭", "Close");
pub const EXPORT_READING: L = L::new("正在读取记录 {n} / {total}…", "Reading records {n} / {total}…");
pub const EXPORT_DONE: L = L::new("已导出：", "Exported:");
pub const EXPORT_FAILED: L = L::new("导出失败：", "Export failed: ");
