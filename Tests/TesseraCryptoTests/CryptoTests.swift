import Testing
import Foundation
@testable import TesseraCrypto

private func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }
private func b64(_ text: String) -> [UInt8] { Base64URL.decode(text)! }

@Suite("Signing round trips")
struct SigningRoundTripTests {
    static let specs: [(KeySpec, SignatureAlgorithm)] = [
        (.p256, .es256), (.ed25519, .edDSA), (.rsa(bits: 2048), .rs256), (.rsa(bits: 3072), .rs256), (.rsa(bits: 2048), .ps256),
    ]

    @Test("sign then verify with every algorithm", arguments: 0..<specs.count)
    func signsAndVerifiesWithEveryAlgorithm(index: Int) throws {
        let (spec, algorithm) = Self.specs[index]
        let key = try PrivateKey.generate(spec)
        let signer = try Signer(key: key, algorithm: algorithm)
        let message = bytes("header.payload")
        let signature = try signer.sign(message)
        let verifier = try key.publicKey().verifier(for: algorithm)
        #expect(verifier.verify(signature: signature, message: message))
        #expect(!verifier.verify(signature: signature, message: bytes("header.payloaD")))
        var tampered = signature
        tampered[tampered.count / 2] ^= 0x01
        #expect(!verifier.verify(signature: tampered, message: message))
        if algorithm == .es256 || algorithm == .edDSA { #expect(signature.count == 64) }
    }

    @Test func pkcs8PEMRoundTripKeepsTheKey() throws {
        for spec in [KeySpec.p256, .ed25519, .rsa(bits: 2048)] {
            let key = try PrivateKey.generate(spec)
            let pem = try key.pkcs8PEM()
            #expect(pem.hasPrefix("-----BEGIN PRIVATE KEY-----"))
            let reloaded = try PrivateKey(pem: pem)
            #expect(try reloaded.publicKey() == key.publicKey())
        }
    }

    @Test func loadsDERPrivateKeys() throws {
        // RFC 8037 A.1 Ed25519 private key wrapped as PKCS#8 DER.
        let prefix: [UInt8] = [0x30, 0x2E, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2B, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20]
        let key = try PrivateKey(der: prefix + b64("nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A"))
        #expect(key.family == .ed25519)
        #expect(try key.publicKey().jwk().x == "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo")
    }

    @Test func rejectsGarbageAndEncryptedKeyFiles() throws {
        #expect(throws: CryptoError.self) { try PrivateKey(pem: "not a key") }
        #expect(throws: CryptoError.self) { try PrivateKey(der: [0x30, 0x03, 0x02, 0x01]) }
        let encrypted = """
        -----BEGIN ENCRYPTED PRIVATE KEY-----
        MIHsMFcGCSqGSIb3DQEFDTBKMCkGCSqGSIb3DQEFDDAcBAhXfrVd2OHf7QICCAAw
        DAYIKoZIhvcNAgkFADAdBglghkgBZQMEASoEEPm0l5h3HmOMIjBXhJbCDv8EgZAo
        -----END ENCRYPTED PRIVATE KEY-----
        """
        let error = #expect(throws: CryptoError.self) { try PrivateKey(pem: encrypted) }
        #expect(error?.code == .invalidKey)
    }

    @Test func refusesMismatchedAlgorithms() throws {
        let ec = try PrivateKey.generate(.p256)
        #expect(throws: CryptoError.self) { try Signer(key: ec, algorithm: .rs256) }
        #expect(throws: CryptoError.self) { try ec.publicKey().verifier(for: .edDSA) }
    }
}

@Suite("Published test vectors")
struct VectorTests {
    @Test("RFC 7515 A.3 ES256 example verifies")
    func rfc7515AppendixA3Verifies() throws {
        let jwk = PublicJWK(kty: "EC", crv: "P-256", x: "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
                            y: "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0")
        let verifier = try PublicKey(jwk: jwk).verifier(for: .es256)
        let input = bytes("eyJhbGciOiJFUzI1NiJ9.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ")
        let signature = b64("DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKTUJqPP3-Kg6NU1Q")
        #expect(verifier.verify(signature: signature, message: input))
    }

    @Test("RFC 8037 A.4 Ed25519 signature reproduced exactly")
    func rfc8037AppendixA4Reproduced() throws {
        let prefix: [UInt8] = [0x30, 0x2E, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2B, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20]
        let key = try PrivateKey(der: prefix + b64("nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A"))
        let signature = try Signer(key: key, algorithm: .edDSA).sign(bytes("eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc"))
        #expect(Base64URL.encode(signature) == "hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg")
        // RFC 8037 A.3: the thumbprint of the same key.
        #expect(try key.publicKey().thumbprint() == "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k")
    }

    @Test("RFC 7638 §3.1 thumbprint reproduced exactly")
    func rfc7638Thumbprint() throws {
        let n = "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"
        let jwk = PublicJWK(kty: "RSA", n: n, e: "AQAB", kid: "2011-04-29", alg: "RS256")
        #expect(try jwk.thumbprint() == "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs")
        // Importing and re-exporting gives the same thumbprint as kid.
        #expect(try PublicKey(jwk: jwk).jwk().kid == "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs")
    }

    @Test func sha256OfABC() {
        #expect(SHA256.hash(bytes("abc")).map { String(format: "%02x", $0) }.joined()
            == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    }
}

@Suite("Malformed and malicious ECDSA signatures")
struct ECDSASignatureTests {
    static let order = ECDSASignature.p256Order

    func validSignature() throws -> (SignatureVerifier, [UInt8], [UInt8]) {
        let key = try PrivateKey.generate(.p256)
        let message = bytes("message")
        let signature = try Signer(key: key, algorithm: .es256).sign(message)
        return (try key.publicKey().verifier(for: .es256), message, signature)
    }

    @Test func rejectsWrongLengths() throws {
        let (verifier, message, signature) = try validSignature()
        #expect(!verifier.verify(signature: Array(signature.dropLast()), message: message))
        #expect(!verifier.verify(signature: signature + [0], message: message))
        #expect(!verifier.verify(signature: [], message: message))
        // A DER signature where the JWS form is expected.
        let der = try ECDSASignature.der(fromRaw: signature)
        #expect(!verifier.verify(signature: der, message: message))
    }

    @Test func rejectsZeroComponents() throws {
        let (verifier, message, signature) = try validSignature()
        let zero = [UInt8](repeating: 0, count: 32)
        #expect(!verifier.verify(signature: zero + zero, message: message))
        #expect(!verifier.verify(signature: zero + Array(signature[32...]), message: message))
        #expect(!verifier.verify(signature: Array(signature[..<32]) + zero, message: message))
        #expect(throws: CryptoError.self) { try ECDSASignature.der(fromRaw: zero + zero) }
    }

    @Test func rejectsComponentsNotBelowTheOrder() throws {
        let (verifier, message, signature) = try validSignature()
        // s + n would verify in a library that reduces mod n; it cannot be represented in 32
        // bytes, but n itself and all-ones can.
        #expect(!verifier.verify(signature: Self.order + Array(signature[32...]), message: message))
        #expect(!verifier.verify(signature: Array(signature[..<32]) + Self.order, message: message))
        let ones = [UInt8](repeating: 0xFF, count: 32)
        #expect(!verifier.verify(signature: ones + ones, message: message))
        #expect(ECDSASignature.isInRange(Self.order.dropLast() + [0x50]))
        #expect(!ECDSASignature.isInRange(Self.order[...]))
    }

    @Test func derConversionRoundTrips() throws {
        let (_, _, signature) = try validSignature()
        let der = try ECDSASignature.der(fromRaw: signature)
        #expect(try ECDSASignature.raw(fromDER: der) == signature)
        // Small components: leading zeros stripped in DER, restored in raw form.
        let small = [UInt8](repeating: 0, count: 31) + [1] + [0x80] + [UInt8](repeating: 0, count: 31)
        let smallDER = try ECDSASignature.der(fromRaw: small)
        #expect(smallDER == [0x30, 0x26, 0x02, 0x01, 0x01, 0x02, 0x21, 0x00, 0x80] + [UInt8](repeating: 0, count: 31))
        #expect(try ECDSASignature.raw(fromDER: smallDER) == small)
    }

    @Test func rejectsNonMinimalOrTrailingDER() {
        #expect(throws: CryptoError.self) { try ECDSASignature.raw(fromDER: [0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01, 0x00]) }
        #expect(throws: CryptoError.self) { try ECDSASignature.raw(fromDER: [0x30, 0x07, 0x02, 0x02, 0x00, 0x01, 0x02, 0x01, 0x01]) }
        #expect(throws: CryptoError.self) { try ECDSASignature.raw(fromDER: [0x30, 0x06, 0x02, 0x01, 0x81, 0x02, 0x01, 0x01]) }
        #expect(throws: CryptoError.self) { try ECDSASignature.raw(fromDER: []) }
    }
}

@Suite("JWK export and import")
struct JWKTests {
    @Test func exportsOnlyPublicMembers() throws {
        for spec in [KeySpec.p256, .ed25519, .rsa(bits: 2048)] {
            let key = try PrivateKey.generate(spec)
            let jwk = try key.publicKey().jwk(algorithm: spec == .p256 ? .es256 : spec == .ed25519 ? .edDSA : .rs256)
            let json = try String(decoding: JSONEncoder().encode(jwk), as: UTF8.self)
            for member in ["\"d\"", "\"p\"", "\"q\"", "\"dp\"", "\"dq\"", "\"qi\""] {
                #expect(!json.contains(member), "\(member) leaked in \(json)")
            }
            #expect(jwk.use == "sig")
            #expect(jwk.kid == (try jwk.thumbprint()))
            #expect(try PublicKey(jwk: jwk) == key.publicKey())
        }
    }

    @Test func refusesJWKWithPrivateMembers() {
        let json = #"{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo","d":"nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A"}"#
        #expect(throws: (any Error).self) { try JSONDecoder().decode(PublicJWK.self, from: Data(json.utf8)) }
    }

    @Test func refusesPointsOffTheCurve() {
        let jwk = PublicJWK(kty: "EC", crv: "P-256", x: "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
                            y: "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a1")
        #expect(throws: CryptoError.self) { try PublicKey(jwk: jwk) }
    }

    @Test func refusesWeakOrUnknownKeys() throws {
        #expect(throws: CryptoError.self) { try PublicKey(jwk: PublicJWK(kty: "RSA", n: "AQAB", e: "AQAB")) }
        #expect(throws: CryptoError.self) { try PublicKey(jwk: PublicJWK(kty: "oct")) }
        #expect(throws: CryptoError.self) { try PublicKey(jwk: PublicJWK(kty: "EC", crv: "P-384", x: "AA", y: "AA")) }
        let rsa = try PrivateKey.generate(.rsa(bits: 2048)).publicKey().jwk()
        var wrongAlg = rsa
        wrongAlg.alg = "ES256"
        #expect(throws: CryptoError.self) { try PublicKey(jwk: wrongAlg) }
    }
}

@Suite("Primitives")
struct PrimitiveTests {
    @Test func base64URLIsStrict() {
        #expect(Base64URL.encode(bytes("any carnal pleas")) == "YW55IGNhcm5hbCBwbGVhcw")
        #expect(Base64URL.decode("YW55IGNhcm5hbCBwbGVhcw") == bytes("any carnal pleas"))
        #expect(Base64URL.decode("YW55IGNhcm5hbCBwbGVhcw==") == nil)
        #expect(Base64URL.decode("YW55+GNh") == nil)
        #expect(Base64URL.decode("YW55IGNhcm5hbCBwbGVhcx") == nil)  // non-zero trailing bits
        #expect(Base64URL.decode("A") == nil)
    }

    @Test func constantTimeEquality() {
        #expect(ConstantTime.equals([1, 2, 3], [1, 2, 3]))
        #expect(!ConstantTime.equals([1, 2, 3], [1, 2, 4]))
        #expect(!ConstantTime.equals([1, 2, 3], [1, 2]))
    }

    @Test func randomBytesDiffer() {
        let random = SecureRandom()
        #expect(random.bytes(count: 16) != random.bytes(count: 16))
        #expect(random.bytes(count: 32).count == 32)
    }

    @Test func openSSLErrorsAreReadable() {
        let error = #expect(throws: CryptoError.self) { try PrivateKey(pem: "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n") }
        #expect(error?.message.contains("reading a PEM private key failed") == true)
    }
}
