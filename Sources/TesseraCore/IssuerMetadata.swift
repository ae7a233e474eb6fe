import TesseraCrypto

/// The issuer's URLs, all derived from the one configured issuer identifier.
public struct IssuerURLs: Sendable, Hashable {
    public let issuer: String

    public init(issuer: String) {
        // The issuer is compared byte for byte by verifiers; a trailing slash would make
        // "https://x/" and "https://x" two issuers, so it is removed once, here.
        var trimmed = issuer
        while trimmed.hasSuffix("/") { trimmed.removeLast() }
        self.issuer = trimmed
    }

    public var tokenEndpoint: String { issuer + "/token" }
    public var introspectionEndpoint: String { issuer + "/introspect" }
    public var revocationEndpoint: String { issuer + "/revoke" }
    public var jwksURI: String { issuer + "/.well-known/jwks.json" }
    /// The audience of admin tokens (see `AdminAccess`); no client may be configured for it.
    public var adminAudience: String { issuer + "/admin" }
    public var auditCheckpoint: String { issuer + "/audit/checkpoint" }
}

/// Authorization server metadata (RFC 8414), served at both `oauth-authorization-server` and
/// `openid-configuration`. It advertises only what works: Tessera has no authorization
/// endpoint, so no response types, and issues no ID tokens.
public struct IssuerMetadata: Codable, Sendable, Hashable {
    public let issuer: String
    public let jwksURI: String
    public let tokenEndpoint: String
    public let grantTypesSupported: [String]
    public let tokenEndpointAuthMethodsSupported: [String]
    public let tokenEndpointAuthSigningAlgValuesSupported: [String]
    public let scopesSupported: [String]
    public let introspectionEndpoint: String
    public let introspectionEndpointAuthMethodsSupported: [String]
    public let revocationEndpoint: String
    public let revocationEndpointAuthMethodsSupported: [String]
    /// Not registered with IANA (RFC 8414 §2 allows extensions): the upstreams the `tessera`
    /// CLI may sign in with (`login:` in upstreams.yaml); absent when there are none.
    public let loginProviders: [LoginProvider]?

    public struct LoginProvider: Codable, Sendable, Hashable {
        public let id: String
        public let issuer: String
        public let clientID: String
        public let scopes: [String]

        enum CodingKeys: String, CodingKey {
            case id, issuer, clientID = "client_id", scopes
        }

        public init(id: String, issuer: String, clientID: String, scopes: [String]) {
            self.id = id
            self.issuer = issuer
            self.clientID = clientID
            self.scopes = scopes
        }
    }

    enum CodingKeys: String, CodingKey {
        case issuer
        case jwksURI = "jwks_uri"
        case tokenEndpoint = "token_endpoint"
        case grantTypesSupported = "grant_types_supported"
        case tokenEndpointAuthMethodsSupported = "token_endpoint_auth_methods_supported"
        case tokenEndpointAuthSigningAlgValuesSupported = "token_endpoint_auth_signing_alg_values_supported"
        case scopesSupported = "scopes_supported"
        case introspectionEndpoint = "introspection_endpoint"
        case introspectionEndpointAuthMethodsSupported = "introspection_endpoint_auth_methods_supported"
        case revocationEndpoint = "revocation_endpoint"
        case revocationEndpointAuthMethodsSupported = "revocation_endpoint_auth_methods_supported"
        case loginProviders = "tessera_login_providers"
    }

    public init(urls: IssuerURLs, grantTypes: [String], scopes: [String], loginProviders: [LoginProvider] = []) {
        issuer = urls.issuer
        jwksURI = urls.jwksURI
        tokenEndpoint = urls.tokenEndpoint
        grantTypesSupported = grantTypes
        let clientAuthentication = ["client_secret_basic", "client_secret_post", "private_key_jwt"]
        // `none`: public clients (the CLI), which may only exchange an identity token.
        tokenEndpointAuthMethodsSupported = clientAuthentication + ["none"]
        tokenEndpointAuthSigningAlgValuesSupported = SignatureAlgorithm.allCases.map(\.jwsName)
        scopesSupported = scopes
        introspectionEndpoint = urls.introspectionEndpoint
        introspectionEndpointAuthMethodsSupported = clientAuthentication
        revocationEndpoint = urls.revocationEndpoint
        revocationEndpointAuthMethodsSupported = clientAuthentication
        self.loginProviders = loginProviders.isEmpty ? nil : loginProviders
    }
}
