import Foundation
import TesseraCrypto
import TesseraPolicy

/// Signs a delivery per Standard Webhooks v1: HMAC-SHA256, keyed with the secret's decoded
/// bytes, over `{webhook-id}.{webhook-timestamp}.{body}`, sent as `v1,<base64>`.
public struct StandardWebhookSigner: Sendable {
    private let key: MessageAuthenticationKey

    public init(secret: WebhookSecret) throws(CryptoError) {
        key = try MessageAuthenticationKey(bytes: secret.bytes)
    }

    /// The `webhook-signature` value for one attempt.
    public func signature(id: String, timestamp: Int64, body: [UInt8]) throws(CryptoError) -> String {
        let signed = Array("\(id).\(timestamp).".utf8) + body
        return "v1," + Data(try key.tag(signed)).base64EncodedString()
    }

    /// The three headers of one attempt; `timestamp` is the attempt's time (receivers refuse
    /// one more than 5 minutes off), so a retry is signed again.
    public func headers(id: String, timestamp: Int64, body: [UInt8]) throws(CryptoError) -> [(name: String, value: String)] {
        [("webhook-id", id), ("webhook-timestamp", String(timestamp)),
         ("webhook-signature", try signature(id: id, timestamp: timestamp, body: body))]
    }
}
