import Foundation
import Yams

/// Where an upstream's public keys come from.
public enum UpstreamKeySource: Sendable, Hashable {
    /// A JWK Set fetched from this URL (kept in a cache that honours `Cache-Control`).
    case jwksURI(String)
    /// The `jwks_uri` of `<issuer>/.well-known/openid-configuration` (OpenID Connect Discovery).
    case discovery
    /// A JWK Set JSON file, path resolved against the policies folder: for air-gapped set-ups.
    case file(path: String)
}

/// Which claim value(s) mean "this device is compliant".
public struct DeviceComplianceMapping: Sendable, Hashable {
    public var claim: String
    /// A claim equal to one of these (or an array holding one of them) means compliant; any
    /// other present value means not compliant; an absent claim means the upstream said nothing.
    public var values: [ClaimValue]

    public init(claim: String, values: [ClaimValue] = [.bool(true)]) {
        self.claim = claim
        self.values = values
    }
}

/// Which claims of an upstream's tokens hold the facts an `Identity` carries. Claim names are
/// taken literally: a name with dots (`https://example.com/groups`) is one claim, not a path.
public struct UpstreamClaimMapping: Sendable, Hashable {
    public var subject: String
    public var email: String
    public var groups: String
    public var authenticationMethods: String
    public var authenticationContext: String
    public var authenticationTime: String
    public var deviceCompliance: DeviceComplianceMapping?

    public init(subject: String = "sub", email: String = "email", groups: String = "groups", authenticationMethods: String = "amr",
                authenticationContext: String = "acr", authenticationTime: String = "auth_time",
                deviceCompliance: DeviceComplianceMapping? = nil) {
        self.subject = subject
        self.email = email
        self.groups = groups
        self.authenticationMethods = authenticationMethods
        self.authenticationContext = authenticationContext
        self.authenticationTime = authenticationTime
        self.deviceCompliance = deviceCompliance
    }
}

/// One upstream identity provider whose tokens Tessera accepts as subject tokens, as declared
/// in `upstreams.yaml`.
public struct UpstreamDefinition: Sendable, Hashable {
    /// The JWS algorithms an upstream may be allowed to use. HMAC and `none` are never possible.
    public static let supportedAlgorithms = ["RS256", "PS256", "ES256", "EdDSA"]
    public static let defaultAlgorithms = ["RS256", "ES256"]
    public static let defaultLeewaySeconds = 60
    public static let maximumLeewaySeconds = 300

    public var id: String
    public var description: String?
    /// Compared exactly with a token's `iss` (RFC 8725 §3.8): no normalisation.
    public var issuer: String
    public var keys: UpstreamKeySource
    /// Accepted `aud` values; a token must name at least one.
    public var audiences: [String]
    /// JWS names from `supportedAlgorithms`.
    public var algorithms: [String]
    public var leewaySeconds: Int
    /// Tokens whose `iat` is older than this are refused (and `iat` becomes required).
    public var maximumTokenAgeSeconds: Int?
    /// Tokens whose `auth_time` is older than this are refused (and `auth_time` becomes required).
    public var maximumAuthenticationAgeSeconds: Int?
    public var claims: UpstreamClaimMapping
    /// `example: true`: a placeholder of the example bundle, expected to be unreachable until
    /// someone replaces it; failing to fetch its keys is a notice with a hint, not an outage.
    public var isExample = false
    /// `login:` what the `tessera` CLI signs in with at this upstream, published in Tessera's
    /// metadata so that `tessera login` needs no provider settings of its own.
    public var cliLogin: CLILogin?
    public var location: SourceLocation

    /// The CLI as a native application registered at the upstream (RFC 8252): a public client,
    /// so there is no secret to publish.
    public struct CLILogin: Sendable, Hashable {
        public var clientID: String
        public var scopes: [String]

        public init(clientID: String, scopes: [String] = ["openid", "email", "profile"]) {
            self.clientID = clientID
            self.scopes = scopes
        }
    }

    public init(id: String, description: String? = nil, issuer: String, keys: UpstreamKeySource, audiences: [String],
                algorithms: [String] = UpstreamDefinition.defaultAlgorithms,
                leewaySeconds: Int = UpstreamDefinition.defaultLeewaySeconds, maximumTokenAgeSeconds: Int? = nil,
                maximumAuthenticationAgeSeconds: Int? = nil, claims: UpstreamClaimMapping = UpstreamClaimMapping(),
                location: SourceLocation) {
        self.id = id
        self.description = description
        self.issuer = issuer
        self.keys = keys
        self.audiences = audiences
        self.algorithms = algorithms
        self.leewaySeconds = leewaySeconds
        self.maximumTokenAgeSeconds = maximumTokenAgeSeconds
        self.maximumAuthenticationAgeSeconds = maximumAuthenticationAgeSeconds
        self.claims = claims
        self.location = location
    }

    /// The id of the development upstream that `tessera serve --dev` adds; no bundle may use it.
    public static let developmentID = "dev"

    /// Upstream ids are lowercase letters, digits, '.', '_' and '-': they appear in namespaced
    /// subjects, audit records and log metadata.
    public static func isValidID(_ id: String) -> Bool {
        !id.isEmpty && id.utf8.count <= 64 && id.utf8.allSatisfy { byte in
            (byte >= 0x30 && byte <= 0x39) || (byte >= 0x61 && byte <= 0x7A)
                || byte == UInt8(ascii: "-") || byte == UInt8(ascii: "_") || byte == UInt8(ascii: ".")
        }
    }

    /// Issuers and key URLs must be `https`, except on loopback (tests, a provider on the same
    /// host), where `http` is allowed: keys fetched over plain HTTP from elsewhere could be forged.
    public static func isAcceptableURL(_ text: String) -> Bool {
        guard let components = URLComponents(string: text), let scheme = components.scheme?.lowercased(),
              let host = components.host, !host.isEmpty, components.user == nil, components.password == nil,
              components.fragment == nil
        else { return false }
        switch scheme {
        case "https": return true
        case "http": return ["127.0.0.1", "localhost", "::1", "[::1]"].contains(host.lowercased())
        default: return false
        }
    }

    /// Where OpenID Connect Discovery finds the configuration of `issuer` (§4: the issuer with
    /// any trailing slash removed, then `/.well-known/openid-configuration`).
    public var discoveryURL: String {
        var base = issuer
        while base.hasSuffix("/") { base.removeLast() }
        return base + "/.well-known/openid-configuration"
    }
}

extension UpstreamDefinition {
    static let fields: Set<String> = [
        "id", "description", "issuer", "jwks_uri", "discovery", "jwks_file", "audiences", "algorithms", "leeway",
        "max_token_age", "max_auth_age", "claims", "example", "login",
    ]
    static let claimFields: Set<String> = ["subject", "email", "groups", "amr", "acr", "auth_time", "device_compliant"]

    init(field: YAMLField) throws(PolicyError) {
        let members = try field.mapping(allowed: Self.fields)
        guard let idField = members["id"] else { throw field.error("an upstream needs an \"id\"") }
        let id = try idField.nonEmptyString()
        guard Self.isValidID(id) else {
            throw idField.error("upstream ids use lowercase letters, digits, '.', '_' and '-' only (at most 64)")
        }
        guard id != Self.developmentID else {
            throw idField.error("the upstream id \"\(Self.developmentID)\" is reserved for the development upstream of `tessera serve --dev`: "
                + "an IdP of that name would share its subjects (dev:alice) and the roles that admit it; choose another id")
        }
        guard let issuerField = members["issuer"] else { throw field.error("upstream \"\(id)\" needs an \"issuer\" (its exact iss value)") }
        let issuer = try issuerField.nonEmptyString()
        guard Self.isAcceptableURL(issuer) else {
            throw issuerField.error("the issuer must be an https URL (http only on 127.0.0.1, localhost or [::1])")
        }

        let sources = ["jwks_uri", "discovery", "jwks_file"].filter { members[$0] != nil }
        guard sources.count == 1 else {
            throw field.error("upstream \"\(id)\" needs exactly one of jwks_uri, discovery: true or jwks_file"
                + (sources.isEmpty ? "" : "; it has \(sources.joined(separator: ", "))"))
        }
        let keys: UpstreamKeySource
        if let uriField = members["jwks_uri"] {
            let uri = try uriField.nonEmptyString()
            guard Self.isAcceptableURL(uri) else {
                throw uriField.error("jwks_uri must be an https URL (http only on 127.0.0.1, localhost or [::1])")
            }
            keys = .jwksURI(uri)
        } else if let discoveryField = members["discovery"] {
            guard try discoveryField.bool() else {
                throw discoveryField.error("discovery: false gives no keys; use jwks_uri or jwks_file instead")
            }
            keys = .discovery
        } else {
            keys = .file(path: try members["jwks_file"]!.nonEmptyString())
        }

        guard let audiencesField = members["audiences"] else {
            throw field.error("upstream \"\(id)\" needs audiences: the aud values its tokens must carry to be accepted here")
        }
        let audiences = try audiencesField.stringList()
        guard !audiences.isEmpty else { throw audiencesField.error("needs at least one audience") }

        var algorithms = Self.defaultAlgorithms
        if let algorithmsField = members["algorithms"] {
            algorithms = try algorithmsField.stringList()
            guard !algorithms.isEmpty else { throw algorithmsField.error("needs at least one algorithm") }
            if let bad = algorithms.first(where: { !Self.supportedAlgorithms.contains($0) }) {
                throw algorithmsField.error("unsupported algorithm \"\(bad)\"; expected some of: \(Self.supportedAlgorithms.joined(separator: ", "))")
            }
        }

        var leeway = Self.defaultLeewaySeconds
        if let leewayField = members["leeway"] {
            leeway = try leewayField.durationSeconds()
            guard leeway <= Self.maximumLeewaySeconds else {
                throw leewayField.error("leeway must be at most \(Self.maximumLeewaySeconds / 60)m")
            }
        }
        let maximumTokenAge = try members["max_token_age"].map { (ageField) throws(PolicyError) -> Int in
            let seconds = try ageField.durationSeconds()
            guard seconds > 0 else { throw ageField.error("must be longer than 0s") }
            return seconds
        }
        let maximumAuthenticationAge = try members["max_auth_age"].map { (ageField) throws(PolicyError) -> Int in
            let seconds = try ageField.durationSeconds()
            guard seconds > 0 else { throw ageField.error("must be longer than 0s") }
            return seconds
        }
        let claims = try members["claims"].map { (claimsField) throws(PolicyError) in try Self.claimMapping(claimsField) }
            ?? UpstreamClaimMapping()

        self.init(id: id, description: try members["description"]?.string(), issuer: issuer, keys: keys, audiences: audiences,
                  algorithms: algorithms, leewaySeconds: leeway, maximumTokenAgeSeconds: maximumTokenAge,
                  maximumAuthenticationAgeSeconds: maximumAuthenticationAge, claims: claims, location: field.location)
        isExample = try members["example"]?.bool() ?? false
        cliLogin = try members["login"].map { (loginField) throws(PolicyError) in try Self.cliLogin(loginField, audiences: audiences) }
    }

    private static func cliLogin(_ field: YAMLField, audiences: [String]) throws(PolicyError) -> CLILogin {
        let members = try field.mapping(allowed: ["client_id", "scopes"])
        guard let clientIDField = members["client_id"] else { throw field.error("login needs client_id: the CLI's client id at this upstream") }
        var login = CLILogin(clientID: try clientIDField.nonEmptyString())
        // The ID tokens the CLI gets carry its client id as their audience.
        guard audiences.contains(login.clientID) else {
            throw clientIDField.error("\(login.clientID) is not among this upstream's audiences, so its ID tokens would be refused; add it there")
        }
        if let scopesField = members["scopes"] {
            login.scopes = try scopesField.stringList()
            guard login.scopes.contains("openid") else { throw scopesField.error("must include openid") }
        }
        return login
    }

    private static func claimMapping(_ field: YAMLField) throws(PolicyError) -> UpstreamClaimMapping {
        let members = try field.mapping(allowed: claimFields)
        var mapping = UpstreamClaimMapping()
        if let value = members["subject"] { mapping.subject = try value.nonEmptyString() }
        if let value = members["email"] { mapping.email = try value.nonEmptyString() }
        if let value = members["groups"] { mapping.groups = try value.nonEmptyString() }
        if let value = members["amr"] { mapping.authenticationMethods = try value.nonEmptyString() }
        if let value = members["acr"] { mapping.authenticationContext = try value.nonEmptyString() }
        if let value = members["auth_time"] { mapping.authenticationTime = try value.nonEmptyString() }
        if let deviceField = members["device_compliant"] {
            let device = try deviceField.mapping(allowed: ["claim", "values"])
            guard let claimField = device["claim"] else { throw deviceField.error("needs claim: the claim that says the device is compliant") }
            var values: [ClaimValue] = [.bool(true)]
            if let valuesField = device["values"] {
                let list = valuesField.isScalar ? [valuesField] : try valuesField.sequence()
                guard !list.isEmpty else { throw valuesField.error("needs at least one value") }
                values = []
                for element in list { values.append(try element.claimScalar()) }
            }
            mapping.deviceCompliance = DeviceComplianceMapping(claim: try claimField.nonEmptyString(), values: values)
        }
        return mapping
    }
}

extension YAMLField {
    /// A scalar as a claim value: plain `true`/`false` are booleans, plain numbers are numbers,
    /// anything else (including quoted `"true"`) is a string.
    func claimScalar() throws(PolicyError) -> ClaimValue {
        guard case .scalar(let scalar) = node, !isNull else { throw error("expected a string, a number, true or false") }
        if scalar.style == .plain {
            switch scalar.string {
            case "true", "True", "TRUE": return .bool(true)
            case "false", "False", "FALSE": return .bool(false)
            default:
                if let number = Double(scalar.string), number.isFinite { return .number(number) }
            }
        }
        return .string(scalar.string)
    }
}
