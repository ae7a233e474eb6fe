import Foundation
import Testing
import TesseraCrypto
import TesseraJWT

/// Project Wycheproof's signature vectors (C2SP/wycheproof `testvectors_v1`), through the key
/// path tokens take: a public key from its JWK, as a JWKS delivers it (or from its DER when the
/// group has no JWK, such as a point off the curve), made a `VerificationKey` for one algorithm,
/// whose verifier checks the signature. Every `valid` vector verifies, every `invalid` one is
/// refused; `acceptable` ones may go either way and are not counted.
@Suite("Wycheproof signature vectors")
struct WycheproofTests {
    struct File: Sendable, CustomStringConvertible {
        let name: String
        let algorithm: SignatureAlgorithm
        var description: String { "\(algorithm.jwsName): \(name)" }
    }

    static let files = [
        File(name: "ecdsa_secp256r1_sha256_p1363_test", algorithm: .es256),
        File(name: "ed25519_test", algorithm: .edDSA),
        File(name: "rsa_signature_2048_sha256_test", algorithm: .rs256),
        File(name: "rsa_pss_2048_sha256_mgf1_32_test", algorithm: .ps256),
    ]

    struct Vectors: Decodable {
        let numberOfTests: Int
        let testGroups: [Group]
    }

    struct Group: Decodable {
        let publicKeyDer: String
        let publicKeyJwk: PublicJWK?
        let keyJwk: PublicJWK?
        let tests: [Case]
    }

    struct Case: Decodable {
        let tcId: Int
        let comment: String
        let msg: String
        let sig: String
        let result: String
    }

    static func bytes(_ hex: String) -> [UInt8] {
        var result: [UInt8] = []
        var index = hex.startIndex
        while index < hex.endIndex {
            let next = hex.index(index, offsetBy: 2)
            result.append(UInt8(hex[index..<next], radix: 16)!)
            index = next
        }
        return result
    }

    /// The group's key as a token verifier would hold it; nil when it cannot be one.
    static func key(_ group: Group, _ algorithm: SignatureAlgorithm) -> VerificationKey? {
        let key: PublicKey?
        if let jwk = group.publicKeyJwk ?? group.keyJwk {
            key = try? PublicKey(jwk: jwk)
        } else {
            key = try? PublicKey(spki: bytes(group.publicKeyDer))
        }
        return key.flatMap { try? VerificationKey(keyID: nil, key: $0, algorithm: algorithm) }
    }

    @Test(arguments: files)
    func everyValidVectorVerifiesAndEveryInvalidOneIsRefused(_ file: File) throws {
        let url = try #require(Bundle.module.url(forResource: file.name, withExtension: "json", subdirectory: "wycheproof"))
        let vectors = try JSONDecoder().decode(Vectors.self, from: Data(contentsOf: url))
        var counted = 0
        var failures: [String] = []
        for group in vectors.testGroups {
            let key = Self.key(group, file.algorithm)
            for test in group.tests where test.result != "acceptable" {
                counted += 1
                let verified = key?.verifier.verify(signature: Self.bytes(test.sig), message: Self.bytes(test.msg)) ?? false
                if verified != (test.result == "valid") {
                    failures.append("tcId \(test.tcId) (\(test.result), \(test.comment)): " + (verified ? "verified" : "refused"))
                }
            }
        }
        let disagreements = failures.prefix(20).joined(separator: "\n")
        #expect(failures.isEmpty, "\(failures.count) vectors disagree:\n\(disagreements)")
        let total = vectors.testGroups.reduce(0) { $0 + $1.tests.count }
        #expect(total == vectors.numberOfTests)
        #expect(counted > 100, "only \(counted) vectors were checked")
    }
}
