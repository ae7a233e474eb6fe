import Foundation
import TesseraCrypto
import TesseraJWT
import TesseraPolicy

/// A development identity provider, so token exchange can be tried without a real IdP.
///
/// Its ES256 key lives in the data folder (`dev-upstream.pem`, mode 0600); `tessera dev token`
/// mints identity tokens with it and only a server started with `--dev` trusts them. It is off
/// by default and announces itself loudly when on: anyone who can read the data folder can
/// become anyone through it.
public struct DevUpstream: Sendable {
    /// The upstream id that `--dev` adds, and the audience of its tokens.
    public static let id = UpstreamDefinition.developmentID
    public static let audience = "tessera-dev"
    static let fileName = "dev-upstream.pem"

    public let issuer: String
    let key: PrivateKey
    public let keyID: String

    /// The dev upstream of the issuer `tesseraIssuer`, with the key in `dataDirectory`
    /// (created on first use).
    public static func open(dataDirectory: String, tesseraIssuer: String) throws(KeyDirectoryError) -> DevUpstream {
        let path = (dataDirectory as NSString).appendingPathComponent(fileName)
        let key: PrivateKey
        do {
            if FileManager.default.fileExists(atPath: path) {
                key = try PrivateKey(pem: String(decoding: KeyDirectory.readPrivateKey(path, what: "the dev upstream key"), as: UTF8.self))
            } else {
                try? FileManager.default.createDirectory(atPath: dataDirectory, withIntermediateDirectories: true)
                key = try PrivateKey.generate(.p256)
                try writeAtomically(Data(key.pkcs8PEM().utf8), to: path, permissions: 0o600)
            }
            return DevUpstream(issuer: IssuerURLs(issuer: tesseraIssuer).issuer + "/dev-upstream", key: key,
                               keyID: try key.publicKey().jwk(algorithm: .es256).thumbprint())
        } catch let error as KeyDirectoryError {
            throw error
        } catch {
            throw KeyDirectoryError(path: path, message: "cannot read or create the dev upstream key: \(error)")
        }
    }

    /// The public key set a server started with `--dev` verifies dev tokens with.
    public func jwks() throws(CryptoError) -> PublicJWKSet {
        var jwk = try key.publicKey().jwk(algorithm: .es256)
        jwk.kid = keyID
        return PublicJWKSet(keys: [jwk])
    }

    /// The upstream `--dev` adds to the bundle's: its keys in a JWK Set file next to the key.
    public func definition(dataDirectory: String) throws -> UpstreamDefinition {
        // Absolute: relative jwks_file paths resolve against the policies folder, not the working one.
        let path = URL(fileURLWithPath: (dataDirectory as NSString).appendingPathComponent("dev-upstream.jwks.json")).standardizedFileURL.path
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        try encoder.encode(try jwks()).write(to: URL(fileURLWithPath: path), options: .atomic)
        return UpstreamDefinition(
            id: Self.id, description: "development upstream (tessera serve --dev)", issuer: issuer, keys: .file(path: path),
            audiences: [Self.audience], algorithms: ["ES256"],
            claims: UpstreamClaimMapping(deviceCompliance: DeviceComplianceMapping(claim: "device_compliant")),
            location: SourceLocation(file: path))
    }

    /// What a dev identity token says about its holder.
    public struct Claims: Sendable {
        public var subject: String
        public var email: String?
        public var groups: [String]
        public var authenticationMethods: [String]
        public var authenticationContext: String?
        public var deviceCompliant: Bool?
        /// Any other claims (`repository`, `ref`, ...), as strings.
        public var extra: [String: String]
        public var lifetimeSeconds: Int

        public init(subject: String, email: String? = nil, groups: [String] = [], authenticationMethods: [String] = ["pwd"],
                    authenticationContext: String? = nil, deviceCompliant: Bool? = nil, extra: [String: String] = [:],
                    lifetimeSeconds: Int = 3600) {
            self.subject = subject
            self.email = email
            self.groups = groups
            self.authenticationMethods = authenticationMethods
            self.authenticationContext = authenticationContext
            self.deviceCompliant = deviceCompliant
            self.extra = extra
            self.lifetimeSeconds = lifetimeSeconds
        }
    }

    /// An identity token shaped like an OIDC ID token (`auth_time` now: a fresh sign-in).
    public func mint(_ claims: Claims, now: Date) throws(JWTError) -> String {
        let issuedAt = now.timeIntervalSince1970.rounded(.down)
        var members: [String: JSONValue] = [:]
        for (name, value) in claims.extra { members[name] = .string(value) }
        members["iss"] = .string(issuer)
        members["sub"] = .string(claims.subject)
        members["aud"] = .string(Self.audience)
        members["iat"] = .number(issuedAt)
        members["auth_time"] = .number(issuedAt)
        members["exp"] = .number(issuedAt + Double(claims.lifetimeSeconds))
        members["jti"] = .string(UUID().uuidString)
        members["groups"] = .array(claims.groups.map(JSONValue.string))
        members["amr"] = .array(claims.authenticationMethods.map(JSONValue.string))
        if let email = claims.email { members["email"] = .string(email) }
        if let acr = claims.authenticationContext { members["acr"] = .string(acr) }
        if let compliant = claims.deviceCompliant { members["device_compliant"] = .bool(compliant) }
        var writer = JSONWriter()
        writer.value(.object(members))
        let signer: Signer
        do {
            signer = try Signer(key: key, algorithm: .es256)
        } catch {
            throw JWTError(.invalidSignature, "the dev upstream key cannot sign: \(error)")
        }
        return try JWSSigner(keyID: keyID, signer: signer, type: "JWT").sign(payload: writer.bytes)
    }
}
