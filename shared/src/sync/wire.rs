//! Wire messages of the automerge-repo WebSocket protocol, version "1": one CBOR map per
//! binary frame.
//!
//! Matches what the JS peers (cbor-x with `tagUint8Array: false`) send and accept: byte
//! strings for `data`, text for ids, `peerMetadata` (the spec's text says `metadata`; both are
//! read), `undefined` for absent optional values, unknown keys ignored. Integers above 2³² are
//! read from floats too, because JS encodes large numbers as float64.

use minicbor::data::Type;
use minicbor::{Decoder, Encoder};

use crate::doc_id::DocumentId;

/// The only protocol version there is.
pub const PROTOCOL_VERSION: &str = "1";

/// A peer's self-chosen name on the wire. It identifies a connection, never a person: the
/// server binds each connection to the account that opened it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PeerId(pub String);

impl std::fmt::Display for PeerId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PeerMetadata {
    /// Set by peers that keep documents in durable storage; JS peers key what they remember
    /// about a remote (sync state, its heads) by it.
    pub storage_id: Option<String>,
    pub is_ephemeral: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    Join {
        sender_id: PeerId,
        supported_protocol_versions: Vec<String>,
        peer_metadata: Option<PeerMetadata>,
    },
    Peer {
        sender_id: PeerId,
        target_id: PeerId,
        selected_protocol_version: String,
        peer_metadata: Option<PeerMetadata>,
    },
    Error {
        message: String,
    },
    Leave {
        sender_id: PeerId,
    },
    /// The first sync message for a document the sender does not have.
    Request {
        sender_id: PeerId,
        target_id: PeerId,
        document_id: DocumentId,
        data: Vec<u8>,
    },
    Sync {
        sender_id: PeerId,
        target_id: PeerId,
        document_id: DocumentId,
        data: Vec<u8>,
    },
    DocUnavailable {
        sender_id: PeerId,
        target_id: PeerId,
        document_id: DocumentId,
        /// Why, when it is not simply "missing or not yours" (our extension, under `message`:
        /// the document is too large, its sync data was bad, storage failed). JS peers ignore
        /// the key and see a plain `doc-unavailable`.
        reason: Option<String>,
    },
    Ephemeral {
        sender_id: PeerId,
        target_id: PeerId,
        count: u64,
        session_id: String,
        document_id: DocumentId,
        data: Vec<u8>,
    },
    /// Remote-heads gossip (`remote-subscription-change`, `remote-heads-changed`): valid, but
    /// this implementation does not take part in it, so they are read and dropped.
    Gossip {
        kind: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    #[error("malformed CBOR: {0}")]
    Cbor(String),
    #[error("a message must be a CBOR map")]
    NotAMap,
    #[error("`{key}` is missing from a `{kind}` message")]
    Missing { kind: String, key: &'static str },
    #[error("`{0}` has the wrong type")]
    WrongType(&'static str),
    #[error("unknown message type `{0}`")]
    UnknownType(String),
    #[error("bad document id: {0}")]
    BadDocumentId(String),
    #[error("trailing bytes after the message")]
    Trailing,
}

impl From<minicbor::decode::Error> for WireError {
    fn from(e: minicbor::decode::Error) -> Self {
        WireError::Cbor(e.to_string())
    }
}

impl Message {
    pub fn kind(&self) -> &str {
        match self {
            Message::Join { .. } => "join",
            Message::Peer { .. } => "peer",
            Message::Error { .. } => "error",
            Message::Leave { .. } => "leave",
            Message::Request { .. } => "request",
            Message::Sync { .. } => "sync",
            Message::DocUnavailable { .. } => "doc-unavailable",
            Message::Ephemeral { .. } => "ephemeral",
            Message::Gossip { kind } => kind,
        }
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut e = Encoder::new(Vec::new());
        // Writing to a Vec cannot fail.
        self.encode_into(&mut e).expect("encoding into a Vec");
        e.into_writer()
    }

    fn encode_into(&self, e: &mut Encoder<Vec<u8>>) -> Result<(), minicbor::encode::Error<std::convert::Infallible>> {
        match self {
            Message::Join { sender_id, supported_protocol_versions, peer_metadata } => {
                e.map(3 + peer_metadata.is_some() as u64)?;
                e.str("type")?.str("join")?;
                e.str("senderId")?.str(&sender_id.0)?;
                e.str("supportedProtocolVersions")?.array(supported_protocol_versions.len() as u64)?;
                for v in supported_protocol_versions {
                    e.str(v)?;
                }
                if let Some(m) = peer_metadata {
                    e.str("peerMetadata")?;
                    encode_metadata(e, m)?;
                }
            }
            Message::Peer { sender_id, target_id, selected_protocol_version, peer_metadata } => {
                e.map(4 + peer_metadata.is_some() as u64)?;
                e.str("type")?.str("peer")?;
                e.str("senderId")?.str(&sender_id.0)?;
                e.str("targetId")?.str(&target_id.0)?;
                e.str("selectedProtocolVersion")?.str(selected_protocol_version)?;
                if let Some(m) = peer_metadata {
                    e.str("peerMetadata")?;
                    encode_metadata(e, m)?;
                }
            }
            Message::Error { message } => {
                e.map(2)?.str("type")?.str("error")?.str("message")?.str(message)?;
            }
            Message::Leave { sender_id } => {
                e.map(2)?.str("type")?.str("leave")?.str("senderId")?.str(&sender_id.0)?;
            }
            Message::Request { sender_id, target_id, document_id, data } | Message::Sync { sender_id, target_id, document_id, data } => {
                e.map(5)?;
                e.str("type")?.str(self.kind())?;
                e.str("senderId")?.str(&sender_id.0)?;
                e.str("targetId")?.str(&target_id.0)?;
                e.str("documentId")?.str(&document_id.to_string())?;
                e.str("data")?.bytes(data)?;
            }
            Message::DocUnavailable { sender_id, target_id, document_id, reason } => {
                e.map(if reason.is_some() { 5 } else { 4 })?;
                e.str("type")?.str("doc-unavailable")?;
                e.str("senderId")?.str(&sender_id.0)?;
                e.str("targetId")?.str(&target_id.0)?;
                e.str("documentId")?.str(&document_id.to_string())?;
                if let Some(reason) = reason {
                    e.str("message")?.str(reason)?;
                }
            }
            Message::Ephemeral { sender_id, target_id, count, session_id, document_id, data } => {
                e.map(7)?;
                e.str("type")?.str("ephemeral")?;
                e.str("senderId")?.str(&sender_id.0)?;
                e.str("targetId")?.str(&target_id.0)?;
                e.str("count")?.u64(*count)?;
                e.str("sessionId")?.str(session_id)?;
                e.str("documentId")?.str(&document_id.to_string())?;
                e.str("data")?.bytes(data)?;
            }
            Message::Gossip { kind } => {
                e.map(1)?.str("type")?.str(kind)?;
            }
        }
        Ok(())
    }

    pub fn decode(bytes: &[u8]) -> Result<Message, WireError> {
        let mut d = Decoder::new(bytes);
        let fields = Fields::read(&mut d)?;
        if d.position() != bytes.len() {
            return Err(WireError::Trailing);
        }
        let kind = fields.kind.clone().ok_or(WireError::Missing { kind: "?".into(), key: "type" })?;
        let msg = match kind.as_str() {
            "join" => Message::Join {
                sender_id: fields.peer("senderId", &fields.sender_id)?,
                // A join without versions predates versioning and means "1".
                supported_protocol_versions: fields.versions.clone().unwrap_or_else(|| vec![PROTOCOL_VERSION.into()]),
                peer_metadata: fields.metadata.clone(),
            },
            "peer" => Message::Peer {
                sender_id: fields.peer("senderId", &fields.sender_id)?,
                target_id: fields.peer("targetId", &fields.target_id)?,
                selected_protocol_version: fields.selected.clone().ok_or(fields.missing("selectedProtocolVersion"))?,
                peer_metadata: fields.metadata.clone(),
            },
            "error" => Message::Error { message: fields.message.clone().unwrap_or_default() },
            "leave" => Message::Leave { sender_id: fields.peer("senderId", &fields.sender_id)? },
            "request" | "sync" => {
                let (sender_id, target_id, document_id) = fields.routed()?;
                let data = fields.data.clone().ok_or(fields.missing("data"))?;
                if kind == "request" {
                    Message::Request { sender_id, target_id, document_id, data }
                } else {
                    Message::Sync { sender_id, target_id, document_id, data }
                }
            }
            "doc-unavailable" => {
                let (sender_id, target_id, document_id) = fields.routed()?;
                Message::DocUnavailable { sender_id, target_id, document_id, reason: fields.message.clone() }
            }
            "ephemeral" => {
                let (sender_id, target_id, document_id) = fields.routed()?;
                Message::Ephemeral {
                    sender_id,
                    target_id,
                    document_id,
                    count: fields.count.ok_or(fields.missing("count"))?,
                    session_id: fields.session_id.clone().ok_or(fields.missing("sessionId"))?,
                    data: fields.data.clone().ok_or(fields.missing("data"))?,
                }
            }
            "remote-subscription-change" | "remote-heads-changed" => Message::Gossip { kind },
            other => return Err(WireError::UnknownType(other.into())),
        };
        Ok(msg)
    }
}

fn encode_metadata(e: &mut Encoder<Vec<u8>>, m: &PeerMetadata) -> Result<(), minicbor::encode::Error<std::convert::Infallible>> {
    e.map(1 + m.storage_id.is_some() as u64)?;
    if let Some(id) = &m.storage_id {
        e.str("storageId")?.str(id)?;
    }
    e.str("isEphemeral")?.bool(m.is_ephemeral)?;
    Ok(())
}

/// Every key a message may carry, read in one pass so that key order does not matter.
#[derive(Default)]
struct Fields {
    kind: Option<String>,
    sender_id: Option<String>,
    target_id: Option<String>,
    document_id: Option<String>,
    data: Option<Vec<u8>>,
    versions: Option<Vec<String>>,
    selected: Option<String>,
    metadata: Option<PeerMetadata>,
    message: Option<String>,
    count: Option<u64>,
    session_id: Option<String>,
}

impl Fields {
    fn read(d: &mut Decoder<'_>) -> Result<Fields, WireError> {
        let mut f = Fields::default();
        for_each_entry(d, WireError::NotAMap, |key, d| {
            match key {
                "type" => f.kind = Some(text(d, "type")?),
                "senderId" => f.sender_id = Some(text(d, "senderId")?),
                "targetId" => f.target_id = Some(text(d, "targetId")?),
                "documentId" => f.document_id = Some(text(d, "documentId")?),
                "data" => f.data = Some(bytes(d, "data")?),
                "supportedProtocolVersions" => {
                    let len = d.array()?.ok_or(WireError::WrongType("supportedProtocolVersions"))?;
                    let mut v = Vec::new();
                    for _ in 0..len {
                        v.push(text(d, "supportedProtocolVersions")?);
                    }
                    f.versions = Some(v);
                }
                "selectedProtocolVersion" => f.selected = Some(text(d, "selectedProtocolVersion")?),
                "peerMetadata" | "metadata" => f.metadata = Some(metadata(d)?),
                "message" => f.message = Some(text(d, "message")?),
                "count" => f.count = Some(uint(d, "count")?),
                "sessionId" => f.session_id = Some(text(d, "sessionId")?),
                _ => d.skip()?,
            }
            Ok(())
        })?;
        Ok(f)
    }

    fn missing(&self, key: &'static str) -> WireError {
        WireError::Missing { kind: self.kind.clone().unwrap_or_default(), key }
    }

    fn peer(&self, key: &'static str, v: &Option<String>) -> Result<PeerId, WireError> {
        v.clone().map(PeerId).ok_or(self.missing(key))
    }

    fn routed(&self) -> Result<(PeerId, PeerId, DocumentId), WireError> {
        let doc = self.document_id.as_deref().ok_or(self.missing("documentId"))?;
        Ok((
            self.peer("senderId", &self.sender_id)?,
            self.peer("targetId", &self.target_id)?,
            doc.parse().map_err(|e: crate::doc_id::DocumentIdError| WireError::BadDocumentId(e.to_string()))?,
        ))
    }
}

/// Consumes `undefined` or `null`, which JS peers write for absent optional values.
fn absent(d: &mut Decoder<'_>) -> Result<bool, WireError> {
    match d.datatype()? {
        Type::Undefined => d.undefined().map(|_| true).map_err(Into::into),
        Type::Null => d.null().map(|_| true).map_err(Into::into),
        _ => Ok(false),
    }
}

fn text(d: &mut Decoder<'_>, key: &'static str) -> Result<String, WireError> {
    match d.datatype()? {
        Type::String => Ok(d.str()?.to_owned()),
        _ => Err(WireError::WrongType(key)),
    }
}

fn bytes(d: &mut Decoder<'_>, key: &'static str) -> Result<Vec<u8>, WireError> {
    match d.datatype()? {
        Type::Bytes => Ok(d.bytes()?.to_vec()),
        _ => Err(WireError::WrongType(key)),
    }
}

fn uint(d: &mut Decoder<'_>, key: &'static str) -> Result<u64, WireError> {
    match d.datatype()? {
        Type::U8 | Type::U16 | Type::U32 | Type::U64 => Ok(d.u64()?),
        Type::F16 | Type::F32 | Type::F64 => {
            let f = d.f64()?;
            if f >= 0.0 && f.fract() == 0.0 && f < 2f64.powi(64) { Ok(f as u64) } else { Err(WireError::WrongType(key)) }
        }
        _ => Err(WireError::WrongType(key)),
    }
}

fn metadata(d: &mut Decoder<'_>) -> Result<PeerMetadata, WireError> {
    let mut m = PeerMetadata::default();
    for_each_entry(d, WireError::WrongType("peerMetadata"), |key, d| {
        match key {
            "storageId" => m.storage_id = Some(text(d, "storageId")?),
            "isEphemeral" => match d.datatype()? {
                Type::Bool => m.is_ephemeral = d.bool()?,
                _ => return Err(WireError::WrongType("isEphemeral")),
            },
            _ => d.skip()?,
        }
        Ok(())
    })?;
    Ok(m)
}

/// Calls `f` with each text key of a definite-length map whose value is present, the decoder
/// positioned at the value. Entries with other keys, and `undefined`/`null` values (how JS
/// peers write absent optional values), are skipped.
fn for_each_entry<'b>(
    d: &mut Decoder<'b>,
    not_a_map: WireError,
    mut f: impl FnMut(&str, &mut Decoder<'b>) -> Result<(), WireError>,
) -> Result<(), WireError> {
    let n = match d.datatype()? {
        Type::Map => d.map()?.ok_or(not_a_map)?,
        _ => return Err(not_a_map),
    };
    for _ in 0..n {
        if d.datatype()? != Type::String {
            d.skip()?;
            d.skip()?;
            continue;
        }
        let key = d.str()?;
        if !absent(d)? {
            f(key, d)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn doc() -> DocumentId {
        DocumentId::from_random_bytes([3; 16])
    }

    #[test]
    fn every_message_round_trips() {
        let p = |s: &str| PeerId(s.into());
        let messages = vec![
            Message::Join {
                sender_id: p("client"),
                supported_protocol_versions: vec!["1".into()],
                peer_metadata: Some(PeerMetadata { storage_id: None, is_ephemeral: true }),
            },
            Message::Peer {
                sender_id: p("server"),
                target_id: p("client"),
                selected_protocol_version: "1".into(),
                peer_metadata: Some(PeerMetadata { storage_id: Some("s-1".into()), is_ephemeral: false }),
            },
            Message::Error { message: "bad".into() },
            Message::Leave { sender_id: p("a") },
            Message::Request { sender_id: p("a"), target_id: p("b"), document_id: doc(), data: vec![1, 2] },
            Message::Sync { sender_id: p("a"), target_id: p("b"), document_id: doc(), data: vec![3] },
            Message::DocUnavailable { sender_id: p("a"), target_id: p("b"), document_id: doc(), reason: None },
            Message::DocUnavailable { sender_id: p("a"), target_id: p("b"), document_id: doc(), reason: Some("too large".into()) },
            Message::Ephemeral {
                sender_id: p("a"),
                target_id: p("b"),
                count: 7,
                session_id: "s".into(),
                document_id: doc(),
                data: vec![9],
            },
        ];
        for m in messages {
            assert_eq!(Message::decode(&m.encode()).unwrap(), m);
        }
    }

    /// A `join` as automerge-repo 2.x writes it with cbor-x: 16-bit map header, `undefined`
    /// storageId (a client without storage), and a key we do not know.
    #[test]
    fn reads_what_js_peers_write() {
        let mut e = Encoder::new(Vec::new());
        e.map(5).unwrap();
        e.str("type").unwrap().str("join").unwrap();
        e.str("senderId").unwrap().str("peer-abc").unwrap();
        e.str("supportedProtocolVersions").unwrap().array(1).unwrap().str("1").unwrap();
        e.str("peerMetadata").unwrap().map(2).unwrap();
        e.str("storageId").unwrap().undefined().unwrap();
        e.str("isEphemeral").unwrap().bool(true).unwrap();
        e.str("futureKey").unwrap().map(1).unwrap().str("x").unwrap().array(0).unwrap();
        let mut bytes = e.into_writer();
        // cbor-x writes map headers as 0xb9 + u16 even when small.
        bytes.splice(0..1, [0xb9, 0x00, 0x05]);
        assert_eq!(
            Message::decode(&bytes).unwrap(),
            Message::Join {
                sender_id: PeerId("peer-abc".into()),
                supported_protocol_versions: vec!["1".into()],
                peer_metadata: Some(PeerMetadata { storage_id: None, is_ephemeral: true }),
            }
        );

        // `metadata`, as the spec's text spells it, and a float count from JS numbers.
        let mut e = Encoder::new(Vec::new());
        e.map(7).unwrap();
        e.str("type").unwrap().str("ephemeral").unwrap();
        e.str("senderId").unwrap().str("a").unwrap();
        e.str("targetId").unwrap().str("b").unwrap();
        e.str("count").unwrap().f64(5e9).unwrap();
        e.str("sessionId").unwrap().str("s").unwrap();
        e.str("documentId").unwrap().str(&doc().to_string()).unwrap();
        e.str("data").unwrap().bytes(&[1]).unwrap();
        let Message::Ephemeral { count, .. } = Message::decode(&e.into_writer()).unwrap() else { panic!() };
        assert_eq!(count, 5_000_000_000);
    }

    #[test]
    fn bad_messages_get_precise_errors() {
        let enc = |f: &dyn Fn(&mut Encoder<Vec<u8>>)| {
            let mut e = Encoder::new(Vec::new());
            f(&mut e);
            e.into_writer()
        };
        let check = |bytes: Vec<u8>, expect: WireError| assert_eq!(Message::decode(&bytes), Err(expect));
        check(
            enc(&|e| {
                e.array(0).unwrap();
            }),
            WireError::NotAMap,
        );
        check(
            enc(&|e| {
                e.map(1).unwrap().str("type").unwrap().str("shout").unwrap();
            }),
            WireError::UnknownType("shout".into()),
        );
        check(
            enc(&|e| {
                e.map(2).unwrap().str("type").unwrap().str("sync").unwrap().str("senderId").unwrap().str("a").unwrap();
            }),
            WireError::Missing { kind: "sync".into(), key: "documentId" },
        );
        check(
            enc(&|e| {
                e.map(2).unwrap().str("type").unwrap().str("sync").unwrap().str("data").unwrap().str("not bytes").unwrap();
            }),
            WireError::WrongType("data"),
        );
        let mut good = Message::Leave { sender_id: PeerId("a".into()) }.encode();
        good.push(0);
        assert_eq!(Message::decode(&good), Err(WireError::Trailing));
        assert!(matches!(Message::decode(&[0xa1, 0x64]), Err(WireError::Cbor(_))));
    }

    proptest! {
        /// Whatever arrives on a socket, decoding returns; it never panics.
        #[test]
        fn decoding_arbitrary_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
            let _ = Message::decode(&bytes);
        }

        #[test]
        fn decoding_mutated_messages_never_panics(flip in 0usize..60, bit in 0u8..8) {
            let mut bytes = Message::Sync {
                sender_id: PeerId("a".into()), target_id: PeerId("b".into()), document_id: doc(), data: vec![1, 2, 3],
            }.encode();
            let i = flip % bytes.len();
            bytes[i] ^= 1 << bit;
            let _ = Message::decode(&bytes);
        }
    }
}
