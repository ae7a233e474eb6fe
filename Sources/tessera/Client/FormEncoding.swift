import Foundation

/// `application/x-www-form-urlencoded` as the CLI sends it: everything but RFC 3986's
/// unreserved ASCII characters percent-encoded (so `+`, `&`, `=` and non-ASCII letters in a
/// reason or a secret arrive as they were typed).
enum FormEncoding {
    private static let unreserved = CharacterSet(charactersIn: "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~")

    static func encode(_ value: String) -> String {
        value.addingPercentEncoding(withAllowedCharacters: unreserved) ?? ""
    }

    static func encode(_ form: [(String, String)]) -> String {
        form.map { "\(encode($0.0))=\(encode($0.1))" }.joined(separator: "&")
    }

    /// HTTP Basic credentials for a client (RFC 6749 §2.3.1: id and secret form-encoded first).
    static func basicCredentials(clientID: String, secret: String) -> String {
        "Basic " + Data((encode(clientID) + ":" + encode(secret)).utf8).base64EncodedString()
    }
}
