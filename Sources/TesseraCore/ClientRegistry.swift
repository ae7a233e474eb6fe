import Foundation
import TesseraCrypto
import TesseraJWT
import TesseraPolicy
import TesseraText

/// A client ready for authentication: its declaration plus the parsed secret hash or keys.
public struct RegisteredClient: Sendable {
    public let definition: ClientDefinition
    let secretHash: [UInt8]?
    let assertionKeys: VerificationKeySet?

    public var id: String { definition.id }
}

/// Every client of the policy bundle, with secrets and public keys parsed up front so that a
/// broken key file stops the server at start rather than failing a request at 3 a.m.
public struct ClientRegistry: Sendable {
    private let clients: [String: RegisteredClient]

    public init(bundle: PolicyBundle) throws(PolicyError) {
        var clients: [String: RegisteredClient] = [:]
        for definition in bundle.clients {
            let secretHash = definition.secretSHA256.flatMap(Self.bytes(fromHex:))
            let keys = try definition.keys.map { (source) throws(PolicyError) in
                try Self.loadKeys(source, clientID: definition.id, directory: bundle.directory)
            }
            clients[definition.id] = RegisteredClient(definition: definition, secretHash: secretHash, assertionKeys: keys)
        }
        self.clients = clients
    }

    /// The client whose id is exactly `id`: a canonically equivalent spelling is no client.
    public func client(id: String) -> RegisteredClient? { clients[exactly: id] }

    public var count: Int { clients.count }

    /// Every audience some client may receive tokens for.
    public var audiences: Set<String> {
        Set(clients.values.flatMap(\.definition.audiences))
    }

    /// Every scope some client may request, for `scopes_supported`.
    public var scopes: [String] {
        Array(Set(clients.values.flatMap(\.definition.scopes))).sorted()
    }

    private static func loadKeys(_ source: ClientKeySource, clientID: String, directory: String) throws(PolicyError) -> VerificationKeySet {
        let jwks: [PublicJWK]
        let location: SourceLocation
        switch source {
        case .inline(let members, let declared):
            location = declared
            jwks = members.map { member in
                PublicJWK(kty: member["kty"] ?? "", crv: member["crv"], x: member["x"], y: member["y"], n: member["n"], e: member["e"],
                          kid: member["kid"], alg: member["alg"], use: member["use"])
            }
            if let leaked = members.flatMap(\.keys).first(where: { ["d", "p", "q", "dp", "dq", "qi", "k"].contains($0) }) {
                throw PolicyError(location, field: "jwks", "client \"\(clientID)\": a JWK contains the private member \"\(leaked)\"; publish only public keys")
            }
        case .file(let path, let declared):
            location = declared
            let resolved = path.hasPrefix("/") ? path : (directory as NSString).appendingPathComponent(path)
            do {
                let data = try Data(contentsOf: URL(fileURLWithPath: resolved))
                jwks = try JSONDecoder().decode(PublicJWKSet.self, from: data).keys
            } catch let error as CryptoError {
                throw PolicyError(location, field: "jwks_file", "client \"\(clientID)\": \(resolved): \(error.message)")
            } catch {
                throw PolicyError(location, field: "jwks_file", "client \"\(clientID)\": cannot read a JWK Set from \(resolved): \(error.localizedDescription)")
            }
        }
        var keys: [VerificationKey] = []
        for (index, jwk) in jwks.enumerated() {
            do {
                let publicKey = try PublicKey(jwk: jwk)
                for algorithm in algorithms(for: jwk, family: publicKey.family) {
                    keys.append(try VerificationKey(keyID: jwk.kid, key: publicKey, algorithm: algorithm))
                }
            } catch {
                throw PolicyError(location, field: "jwks.keys[\(index)]", "client \"\(clientID)\": \(error.message)")
            }
        }
        guard !keys.isEmpty else { throw PolicyError(location, field: "jwks", "client \"\(clientID)\" has no keys") }
        return VerificationKeySet(keys)
    }

    /// The algorithms a client key may sign assertions with: its `alg` when given, otherwise
    /// every algorithm of its key family (an RSA key without `alg` may use RS256 or PS256).
    private static func algorithms(for jwk: PublicJWK, family: KeyFamily) -> [SignatureAlgorithm] {
        if let name = jwk.alg, let algorithm = SignatureAlgorithm(jwsName: name) { return [algorithm] }
        return SignatureAlgorithm.allCases.filter { $0.keyFamily == family }
    }

    /// The bytes `hex` spells (either case), nil unless it is whole pairs of hex digits. The
    /// audit chain parses one hash per group with it, so it works on the UTF-8 directly.
    static func bytes(fromHex hex: String) -> [UInt8]? {
        let digits = Array(hex.utf8)
        guard digits.count.isMultiple(of: 2) else { return nil }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(digits.count / 2)
        for index in stride(from: 0, to: digits.count, by: 2) {
            guard let high = nibble(digits[index]), let low = nibble(digits[index + 1]) else { return nil }
            bytes.append(high << 4 | low)
        }
        return bytes
    }

    private static func nibble(_ digit: UInt8) -> UInt8? {
        switch digit {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): digit - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): digit - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): digit - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}

/// Client secrets: 256 random bits, shown once, stored only as a SHA-256 hash. A fast hash is
/// enough because the secret has full entropy; nothing can be guessed from its hash.
public enum ClientSecret {
    public static let byteCount = 32

    /// A new secret (base64url, 43 characters) and the hex SHA-256 to store.
    public static func generate(random: any RandomSource = SecureRandom()) -> (secret: String, sha256Hex: String) {
        let secret = Base64URL.encode(random.bytes(count: byteCount))
        return (secret, hexSHA256(secret))
    }

    public static func hexSHA256(_ secret: String) -> String {
        SHA256.hash(Array(secret.utf8)).map { byte in
            let digits = Array("0123456789abcdef")
            return "\(digits[Int(byte >> 4)])\(digits[Int(byte & 0x0F)])"
        }.joined()
    }
}
