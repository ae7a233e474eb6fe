/// The claims of an access token in the RFC 9068 profile. Later features (roles, activation,
/// upstream authentication facts) add members through `extensions`.
public struct AccessTokenClaims: Sendable, Hashable {
    public var issuer: String
    public var subject: String
    /// One or more audiences; serialised as a string when there is exactly one.
    public var audiences: [String]
    public var expiresAt: Int64
    public var issuedAt: Int64
    public var notBefore: Int64?
    public var jwtID: String
    public var clientID: String
    /// Space-separated scopes, omitted when empty.
    public var scope: String?
    /// Extension claims, written after the registered ones, sorted by name.
    public var extensions: [String: JSONValue]

    /// Names the fixed fields own; extensions may not override them.
    public static let registeredNames: Set<String> = ["iss", "sub", "aud", "exp", "iat", "nbf", "jti", "client_id", "scope"]

    public init(issuer: String, subject: String, audiences: [String], expiresAt: Int64, issuedAt: Int64,
                notBefore: Int64? = nil, jwtID: String, clientID: String, scope: String? = nil,
                extensions: [String: JSONValue] = [:]) {
        self.issuer = issuer
        self.subject = subject
        self.audiences = audiences
        self.expiresAt = expiresAt
        self.issuedAt = issuedAt
        self.notBefore = notBefore
        self.jwtID = jwtID
        self.clientID = clientID
        self.scope = scope
        self.extensions = extensions
    }

    /// The claim set as compact JSON.
    public func jsonBytes() -> [UInt8] {
        var writer = JSONWriter(capacity: 256)
        writer.beginObject()
        writer.key("iss"); writer.string(issuer)
        writer.key("sub"); writer.string(subject)
        writer.key("aud")
        if audiences.count == 1 {
            writer.string(audiences[0])
        } else {
            writer.value(.array(audiences.map(JSONValue.string)))
        }
        writer.key("exp"); writer.integer(expiresAt)
        writer.key("iat"); writer.integer(issuedAt)
        if let notBefore { writer.key("nbf"); writer.integer(notBefore) }
        writer.key("jti"); writer.string(jwtID)
        writer.key("client_id"); writer.string(clientID)
        if let scope, !scope.isEmpty { writer.key("scope"); writer.string(scope) }
        for name in JSONWriter.sortedNames(extensions.keys) where !Self.registeredNames.contains(name) {
            writer.key(name)
            writer.value(extensions[name]!)
        }
        writer.endObject()
        return writer.bytes
    }
}
