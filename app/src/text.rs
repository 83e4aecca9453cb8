//! The interface's own words, in Chinese and English. Form labels live with the forms.

use shared::i18n::L;

pub const APP_TITLE: L = L::new("妇检联络", "Liaison");
pub const APP_SUBTITLE: L = L::new("案件线索与协作记录", "Case clues and joint work records");
pub const SWITCH_LANG: L = L::new("English", "中文");
pub const RECORDS: L = L::new("本机记录", "Records on this device");
pub const NEW_INTAKE: L = L::new("登记新线索", "New case clue");
pub const EMPTY_LIST: L = L::new(
    "本机还没有记录。点击“登记新线索”开始；没有网络也能填写，内容随填随存在本机。",
    "No records on this device yet. Tap “New case clue” to start: it works without a network and saves on this device as you type.",
);
pub const NO_CODE: L = L::new("（未填编号）", "(no code yet)");
pub const DRAFT: L = L::new("草稿", "Draft");
pub const UPDATED: L = L::new("更新于", "Updated");
pub const BACK: L = L::new("← 返回列表", "← Back to list");
pub const LOADING: L = L::new("正在读取…", "Loading…");
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
pub const OFFLINE_READY: L = L::new("已可离线启动", "starts offline");
pub const OFFLINE_NOT_READY: L = L::new("离线启动尚未就绪", "offline start not ready yet");
pub const NETWORK_ONLINE: L = L::new("网络：在线", "Network: online");
pub const NETWORK_OFFLINE: L = L::new("网络：离线（可继续填写）", "Network: offline (keep working)");
pub const SYNC_SIGNED_OUT: L = L::new("未登录：记录只存于本机", "Not signed in: records stay on this device");
pub const SYNC_EXPIRED: L = L::new("登录已过期，请重新登录（本机记录不受影响）", "Session expired: sign in again (records on this device are safe)");
pub const SYNC_OFFLINE: L = L::new("离线：联网后自动同步", "Offline: will sync when back online");
pub const SYNC_CONNECTING: L = L::new("正在连接服务器…", "Connecting…");
pub const SYNC_SYNCING: L = L::new("正在同步，剩余", "Syncing, records left:");
pub const SYNC_UP_TO_DATE: L = L::new("已同步，时间", "Up to date, synced at");
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
pub const ON_SERVER: L = L::new("服务器已有最新内容", "Server has the latest");
pub const NOT_ON_SERVER: L = L::new("尚未同步到服务器", "Not yet on the server");
pub const SHARE_WITH: L = L::new("共享给", "Share with");
pub const SHARE: L = L::new("共享", "Share");
pub const SHARED_WITH: L = L::new("已共享给：", "Shared with: ");
pub const NOT_SHARED: L = L::new("尚未与其他单位共享", "Not shared with other organisations");
pub const SHARE_NEEDS_SYNC: L = L::new("同步到服务器后才能共享", "Sync to the server before sharing");
pub const SHARE_FAILED: L = L::new("共享失败：", "Could not share: ");
pub const CHOOSE: L = L::new("请选择", "Choose");
pub const YES: L = L::new("是", "Yes");
pub const NO: L = L::new("否", "No");
