/// How a client proves who it is at the token endpoint (RFC 7591 `token_endpoint_auth_method`).
/// A client registers exactly one method and must use it.
public enum ClientAuthMethod: String, Sendable, CaseIterable {
    case clientSecretBasic = "client_secret_basic"
    case clientSecretPost = "client_secret_post"
    case privateKeyJWT = "private_key_jwt"
    /// A public client (`public: true`), such as the CLI on an engineer's laptop: it holds no
    /// secret, names itself with `client_id`, and may use only token exchange, where the
    /// subject token is the credential.
    case none = "none"

    public var usesSecret: Bool { self == .clientSecretBasic || self == .clientSecretPost }
}

/// Where a `private_key_jwt` client's public keys come from.
public enum ClientKeySource: Sendable, Hashable {
    /// JWKs written inline in `clients.yaml`, each a map of JWK members.
    case inline([[String: String]], SourceLocation)
    /// A JWK Set JSON file, path resolved against the policies folder.
    case file(path: String, SourceLocation)
}

/// One client of the token endpoint, as declared in `clients.yaml`.
public struct ClientDefinition: Sendable, Hashable {
    public static let defaultTokenLifetime = 300
    public static let maximumTokenLifetime = 3600

    public var id: String
    public var description: String?
    public var authMethod: ClientAuthMethod
    /// Lowercase hex SHA-256 of the client secret; the secret itself is never stored.
    public var secretSHA256: String?
    public var keys: ClientKeySource?
    public var scopes: [String]
    public var audiences: [String]
    public var tokenLifetimeSeconds: Int
    /// The `typ` header of this client's tokens: `at+jwt` (RFC 9068, the default) or `JWT` for
    /// resource servers whose verifier refuses any other type (libjwt 1.x).
    public var tokenTypeHeader: String
    /// Whether the client may call the introspection endpoint (RFC 7662), as a resource server does.
    public var canIntrospect: Bool
    public var location: SourceLocation
    /// `signing_alg`: the JWS algorithm of this client's tokens (one of
    /// `SigningKeyPolicy.supportedAlgorithms`), for resource servers that verify only some
    /// algorithms, such as RS256 only. nil: keys.yaml's `default_alg` (a role's own wins).
    public var signingAlgorithm: String?

    public static let tokenTypeHeaders = ["at+jwt", "JWT"]

    public init(id: String, description: String? = nil, authMethod: ClientAuthMethod, secretSHA256: String? = nil,
                keys: ClientKeySource? = nil, scopes: [String], audiences: [String],
                tokenLifetimeSeconds: Int = ClientDefinition.defaultTokenLifetime, tokenTypeHeader: String = "at+jwt",
                canIntrospect: Bool = false, location: SourceLocation, signingAlgorithm: String? = nil) {
        self.id = id
        self.description = description
        self.authMethod = authMethod
        self.secretSHA256 = secretSHA256
        self.keys = keys
        self.scopes = scopes
        self.audiences = audiences
        self.tokenLifetimeSeconds = tokenLifetimeSeconds
        self.tokenTypeHeader = tokenTypeHeader
        self.canIntrospect = canIntrospect
        self.location = location
        self.signingAlgorithm = signingAlgorithm
    }

    /// Client ids are printable ASCII without spaces or characters that need escaping in
    /// Basic authentication (`:`) or YAML, so they survive every place they appear.
    public static func isValidID(_ id: String) -> Bool {
        !id.isEmpty && id.utf8.count <= 128 && id.utf8.allSatisfy { byte in
            (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
                || byte == UInt8(ascii: "-") || byte == UInt8(ascii: "_") || byte == UInt8(ascii: ".")
        }
    }

    /// Scopes under `tessera:` belong to Tessera's own tokens (`tessera:admin`, which only
    /// `tessera admin token` issues): no client or role may hand them out.
    public static func isReservedScope(_ scope: String) -> Bool {
        scope.lowercased().hasPrefix("tessera:")
    }

    static func reservedScopeMessage(_ scope: String) -> String {
        "the scope \"\(scope)\" is reserved: scopes under tessera: are for Tessera's admin tokens, which only `tessera admin token` issues"
    }

    /// RFC 6749 §3.3 scope-token: `%x21 / %x23-5B / %x5D-7E`, at least one character.
    public static func isValidScope(_ scope: String) -> Bool {
        !scope.isEmpty && scope.utf8.allSatisfy { byte in
            byte == 0x21 || (byte >= 0x23 && byte <= 0x5B) || (byte >= 0x5D && byte <= 0x7E)
        }
    }
}

extension ClientDefinition {
    static let fields: Set<String> = [
        "id", "description", "auth_method", "secret_sha256", "jwks", "jwks_file", "scopes", "audiences", "token_lifetime",
        "token_type_header", "can_introspect", "public", "signing_alg",
    ]

    init(field: YAMLField) throws(PolicyError) {
        let members = try field.mapping(allowed: Self.fields)
        guard let idField = members["id"] else { throw field.error("a client needs an \"id\"") }
        let id = try idField.nonEmptyString()
        guard Self.isValidID(id) else {
            throw idField.error("client ids use letters, digits, '-', '_' and '.' only (at most 128)")
        }

        let secret = try members["secret_sha256"].map { (secretField) throws(PolicyError) -> String in
            let hex = try secretField.string().lowercased()
            guard hex.utf8.count == 64, hex.utf8.allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x66) }) else {
                throw secretField.error("expected 64 hexadecimal characters (the SHA-256 of the secret)")
            }
            return hex
        }

        var keys: ClientKeySource?
        if let inline = members["jwks"] {
            guard members["jwks_file"] == nil else { throw inline.error("give either jwks or jwks_file, not both") }
            keys = .inline(try Self.inlineKeys(inline), inline.location)
        } else if let fileField = members["jwks_file"] {
            keys = .file(path: try fileField.nonEmptyString(), fileField.location)
        }

        let method: ClientAuthMethod
        let isPublic = try members["public"]?.bool() ?? false
        if isPublic {
            if let methodField = members["auth_method"], try methodField.string() != ClientAuthMethod.none.rawValue {
                throw methodField.error("a public client authenticates with nothing (auth_method none); remove auth_method")
            }
            guard secret == nil, keys == nil else {
                throw field.error("client \"\(id)\" is public: it holds no secret_sha256, jwks or jwks_file")
            }
            method = .none
        } else if let methodField = members["auth_method"] {
            let name = try methodField.string()
            guard let parsed = ClientAuthMethod(rawValue: name) else {
                let known = ClientAuthMethod.allCases.map(\.rawValue).joined(separator: ", ")
                throw methodField.error("unknown auth method \"\(name)\"; expected one of: \(known)")
            }
            guard parsed != .none else { throw methodField.error("auth_method none is written public: true") }
            method = parsed
        } else {
            method = keys != nil ? .privateKeyJWT : .clientSecretBasic
        }
        if method.usesSecret, secret == nil {
            throw field.error("client \"\(id)\" uses \(method.rawValue) and needs secret_sha256 (create one with `tessera clients create`)")
        }
        if method == .privateKeyJWT, keys == nil {
            throw field.error("client \"\(id)\" uses private_key_jwt and needs jwks or jwks_file")
        }
        if method.usesSecret, keys != nil {
            throw field.error("client \"\(id)\" uses \(method.rawValue); jwks/jwks_file are only for private_key_jwt")
        }
        if method == .privateKeyJWT, secret != nil {
            throw field.error("client \"\(id)\" uses private_key_jwt; remove secret_sha256")
        }

        var scopes: [String] = []
        if let scopesField = members["scopes"] {
            scopes = try scopesField.stringList()
            if let bad = scopes.first(where: { !Self.isValidScope($0) }) {
                throw scopesField.error("\"\(bad)\" is not a valid scope (printable ASCII, no spaces, quotes or backslashes)")
            }
            if let reserved = scopes.first(where: Self.isReservedScope) {
                throw scopesField.error(Self.reservedScopeMessage(reserved))
            }
        }
        // A public client gets its audiences from the roles it exchanges tokens for.
        var audiences: [String] = []
        if let audiencesField = members["audiences"] {
            audiences = try audiencesField.stringList()
            guard !audiences.isEmpty else { throw audiencesField.error("needs at least one audience") }
        } else if !isPublic {
            throw field.error("client \"\(id)\" needs at least one entry in audiences (the resource servers its tokens are for)")
        }

        var lifetime = Self.defaultTokenLifetime
        if let lifetimeField = members["token_lifetime"] {
            lifetime = try lifetimeField.durationSeconds()
            guard (1...Self.maximumTokenLifetime).contains(lifetime) else {
                throw lifetimeField.error("token lifetime must be between 1s and \(Self.maximumTokenLifetime / 60)m")
            }
        }

        var typeHeader = "at+jwt"
        if let typeField = members["token_type_header"] {
            typeHeader = try typeField.string()
            guard Self.tokenTypeHeaders.contains(typeHeader) else {
                throw typeField.error("expected at+jwt (RFC 9068, the default) or JWT (for verifiers such as libjwt 1.x)")
            }
        }

        let canIntrospect = try members["can_introspect"]?.bool() ?? false
        if canIntrospect, isPublic, let flag = members["can_introspect"] {
            // A public client proves nothing about itself: anyone could introspect as it.
            throw flag.error("client \"\(id)\" is public (it has no credentials), so it may not introspect tokens; "
                + "give introspection to a confidential client (a secret or private_key_jwt)")
        }
        self.init(id: id, description: try members["description"]?.string(), authMethod: method, secretSHA256: secret,
                  keys: keys, scopes: scopes, audiences: audiences, tokenLifetimeSeconds: lifetime,
                  tokenTypeHeader: typeHeader, canIntrospect: canIntrospect,
                  location: field.location, signingAlgorithm: try members["signing_alg"]?.signingAlgorithm())
    }

    /// `jwks:` may be a JWK Set (`{keys: [...]}`) or directly a list of JWKs.
    private static func inlineKeys(_ field: YAMLField) throws(PolicyError) -> [[String: String]] {
        let list: [YAMLField]
        if field.isMapping {
            guard let keysField = try field.mapping(allowed: ["keys"])["keys"] else { throw field.error("expected keys: [...]") }
            list = try keysField.sequence()
        } else {
            list = try field.sequence()
        }
        guard !list.isEmpty else { throw field.error("needs at least one key") }
        var keys: [[String: String]] = []
        for element in list {
            keys.append(try element.stringMap())
        }
        return keys
    }
}
