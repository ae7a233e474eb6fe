import Foundation
import Testing
import TesseraPolicy

@Suite("keys.yaml parsing")
struct SigningKeyPolicyTests {
    @Test func aBundleWithoutKeysFileHasTheDefaults() throws {
        let directory = NSTemporaryDirectory() + "tessera-keys-\(UUID())"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let keys = try PolicyBundle.load(directory: directory).signingKeys
        #expect(keys == SigningKeyPolicy())
        #expect(keys.defaultAlgorithm == "ES256")
        #expect(keys.prepublishSeconds == 3600)
        #expect(keys.prepublishSeconds == SigningKeyPolicy.defaultPrepublishSeconds)
        #expect(keys.rotations.isEmpty)
        #expect(keys.location == nil)
        #expect(PolicyBundle(clients: [], directory: directory).signingKeys == SigningKeyPolicy())
    }

    @Test func parsesEveryField() throws {
        let yaml = """
        # comment
        signing_keys:
          default_alg: RS256
          prepublish: 15m
          rotation:
            - alg: ES256
              every: 7d
            - alg: RS256
              every: 30d
            - alg: EdDSA
              every: 16m
        """
        let keys = try PolicyBundle.parseSigningKeys(yaml, file: "keys.yaml")
        #expect(keys.defaultAlgorithm == "RS256")
        #expect(keys.prepublishSeconds == 900)
        #expect(keys.rotations == [
            KeyRotationSchedule(algorithm: "ES256", periodSeconds: 7 * 86_400),
            KeyRotationSchedule(algorithm: "RS256", periodSeconds: 30 * 86_400),
            KeyRotationSchedule(algorithm: "EdDSA", periodSeconds: 960),
        ])
        #expect(keys.location?.file == "keys.yaml")
        #expect(keys.location?.line == 3)
    }

    /// Short periods are allowed (tests rotate every few seconds); only every > prepublish counts.
    @Test func acceptsShortPeriodsLongerThanPrepublish() throws {
        let keys = try PolicyBundle.parseSigningKeys(
            "signing_keys:\n  prepublish: 2\n  rotation: [{alg: PS256, every: 3s}]\n", file: "keys.yaml")
        #expect(keys.prepublishSeconds == 2)
        #expect(keys.rotations == [KeyRotationSchedule(algorithm: "PS256", periodSeconds: 3)])
    }

    @Test func emptyFilesAndListsAreTheDefaults() throws {
        for yaml in ["", "signing_keys:\n", "signing_keys:\n  rotation: []\n", "signing_keys:\n  rotation:\n"] {
            let keys = try PolicyBundle.parseSigningKeys(yaml, file: "keys.yaml")
            #expect(keys.defaultAlgorithm == "ES256" && keys.prepublishSeconds == 3600 && keys.rotations.isEmpty, "\(yaml)")
            #expect(keys.location?.file == "keys.yaml", "a keys.yaml that exists is where the policy was read from")
        }
    }

    @Test func daysAreADurationUnit() {
        #expect(DurationText.seconds("7d") == 604_800)
        #expect(DurationText.seconds("1h") == 3600)
        #expect(DurationText.seconds("d") == nil)
        #expect(DurationText.seconds("1.5d") == nil)
    }

    static let supported = "supported: ES256, RS256, PS256, EdDSA"

    /// Each broken file is refused with an error naming the file, line and field.
    @Test("rejects broken files naming line and field", arguments: [
        ("signing_key:\n  default_alg: ES256\n", 1, "signing_key", "unknown field"),
        ("signing_keys:\n  default_algorithm: ES256\n", 2, "signing_keys.default_algorithm", "unknown field"),
        ("signing_keys:\n  rotation:\n    - alg: ES256\n      period: 7d\n", 4, "signing_keys.rotation[0].period", "unknown field"),
        ("signing_keys:\n  default_alg: HS256\n", 2, "signing_keys.default_alg", "unsupported signing algorithm \"HS256\"; " + supported),
        ("signing_keys:\n  default_alg: es256\n", 2, "signing_keys.default_alg", supported),
        ("signing_keys:\n  rotation:\n    - alg: none\n      every: 7d\n", 3, "signing_keys.rotation[0].alg", "unsupported signing algorithm \"none\""),
        ("signing_keys:\n  rotation:\n    - alg: ES256\n      every: 7d\n    - alg: RS256\n      every: 30d\n    - alg: ES256\n      every: 1d\n",
         7, "signing_keys.rotation[2].alg", "ES256 is already rotated at policies/keys.yaml:3"),
        ("signing_keys:\n  rotation:\n    - alg: ES256\n      every: 30m\n", 4, "signing_keys.rotation[0].every",
         "every (30m) must be longer than prepublish (1h)"),
        ("signing_keys:\n  prepublish: 2h\n  rotation:\n    - alg: ES256\n      every: 2h\n", 5, "signing_keys.rotation[0].every",
         "every (2h) must be longer than prepublish (2h)"),
        ("signing_keys:\n  rotation:\n    - alg: ES256\n      every: 0\n", 4, "signing_keys.rotation[0].every", "longer than 0s"),
        ("signing_keys:\n  rotation:\n    - alg: ES256\n      every: weekly\n", 4, "signing_keys.rotation[0].every", "duration"),
        ("signing_keys:\n  rotation:\n    - alg: ES256\n", 3, "signing_keys.rotation[0]", "needs \"every\""),
        ("signing_keys:\n  rotation:\n    - every: 7d\n", 3, "signing_keys.rotation[0]", "needs an \"alg\""),
        ("signing_keys:\n  rotation: {alg: ES256, every: 7d}\n", 2, "signing_keys.rotation", "expected a list"),
        ("signing_keys:\n  prepublish: 0s\n", 2, "signing_keys.prepublish", "longer than 0s"),
        ("signing_keys:\n  prepublish: -5m\n", 2, "signing_keys.prepublish", "duration"),
    ])
    func rejectsBrokenFiles(yaml: String, line: Int, field: String, message: String) {
        let error = #expect(throws: PolicyError.self) { try PolicyBundle.parseSigningKeys(yaml, file: "policies/keys.yaml") }
        #expect(error?.location.file == "policies/keys.yaml")
        #expect(error?.location.line == line, "\(String(describing: error))")
        #expect(error?.location.column != nil)
        #expect(error?.field == field, "\(String(describing: error))")
        #expect(error?.message.contains(message) == true, "\(String(describing: error))")
        #expect(error?.description.hasPrefix("policies/keys.yaml:\(line):") == true)
    }

    /// The error shown in policies/README.md ("keys.yaml") is the one Tessera prints.
    @Test func theReadmeErrorExampleIsAccurate() {
        let yaml = "signing_keys:\n  prepublish: 1h\n  rotation:\n    - alg: ES256\n      every: 30m\n"
        let error = #expect(throws: PolicyError.self) { try PolicyBundle.parseSigningKeys(yaml, file: "./policies/keys.yaml") }
        #expect(error?.description == "./policies/keys.yaml:5:14: signing_keys.rotation[0].every: every (30m) must be longer "
            + "than prepublish (1h): a new key is published for prepublish before it signs")
    }

    @Test func aBrokenKeysFileStopsTheBundle() throws {
        let directory = NSTemporaryDirectory() + "tessera-keys-\(UUID())"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try "signing_keys:\n  default_alg: RS256\n  rotation:\n    - {alg: RS256, every: 30d}\n"
            .write(toFile: directory + "/keys.yaml", atomically: true, encoding: .utf8)
        let keys = try PolicyBundle.load(directory: directory).signingKeys
        #expect(keys.defaultAlgorithm == "RS256")
        #expect(keys.rotations.first { $0.algorithm == "RS256" }?.periodSeconds == 30 * 86_400)
        #expect(keys.location?.file.hasSuffix("/keys.yaml") == true)

        try "signing_keys:\n  default_alg: HS256\n".write(toFile: directory + "/keys.yaml", atomically: true, encoding: .utf8)
        let error = #expect(throws: PolicyError.self) { try PolicyBundle.load(directory: directory) }
        #expect(error?.location.file.hasSuffix("/keys.yaml") == true)
        #expect(error?.location.line == 2)
        #expect(error?.field == "signing_keys.default_alg")
    }

    /// The example bundle shipped in policies/ rotates ES256 keys weekly.
    @Test func theExampleBundleRotatesES256Weekly() throws {
        let keys = try PolicyBundle.load(directory: examplePolicies).signingKeys
        #expect(keys.defaultAlgorithm == "ES256")
        #expect(keys.prepublishSeconds == 3600)
        #expect(keys.rotations == [KeyRotationSchedule(algorithm: "ES256", periodSeconds: 7 * 86_400)])
        #expect(keys.rotations.first { $0.algorithm == "ES256" }?.periodSeconds == 604_800)
        #expect(keys.location?.file.hasSuffix("policies/keys.yaml") == true)
    }
}

@Suite("signing_alg on roles and clients")
struct SigningAlgorithmFieldTests {
    static let secret = String(repeating: "ab", count: 32)

    @Test func parsesSigningAlgOnARole() throws {
        let yaml = "roles:\n  - name: legacy\n    audiences: [x]\n    max_duration: 1h\n    signing_alg: RS256\n"
            + "  - name: modern\n    audiences: [x]\n    max_duration: 1h\n"
        let roles = try PolicyBundle.parseRoles(yaml, file: "roles/r.yaml")
        #expect(roles[0].signingAlgorithm == "RS256")
        #expect(roles[1].signingAlgorithm == nil)
    }

    @Test func parsesSigningAlgOnAClient() throws {
        let yaml = "clients:\n  - id: legacy\n    secret_sha256: \"\(Self.secret)\"\n    audiences: [x]\n    signing_alg: PS256\n"
            + "  - id: cli\n    public: true\n    signing_alg: EdDSA\n  - id: plain\n    public: true\n"
        let clients = try PolicyBundle.parseClients(yaml, file: "clients.yaml")
        #expect(clients.map(\.signingAlgorithm) == ["PS256", "EdDSA", nil])
    }

    @Test func refusesAnUnsupportedAlgorithmOnARole() {
        let yaml = "roles:\n  - name: r\n    audiences: [x]\n    max_duration: 1h\n    signing_alg: HS256\n"
        let error = #expect(throws: PolicyError.self) { try PolicyBundle.parseRoles(yaml, file: "policies/roles/r.yaml") }
        #expect(error?.location.file == "policies/roles/r.yaml")
        #expect(error?.location.line == 5)
        #expect(error?.field == "roles[0].signing_alg")
        #expect(error?.message == "unsupported signing algorithm \"HS256\"; supported: ES256, RS256, PS256, EdDSA")
    }

    @Test func refusesAnUnsupportedAlgorithmOnAClient() {
        let yaml = "clients:\n  - id: a\n    secret_sha256: \"\(Self.secret)\"\n    audiences: [x]\n    signing_alg: ES384\n"
        let error = #expect(throws: PolicyError.self) { try PolicyBundle.parseClients(yaml, file: "policies/clients.yaml") }
        #expect(error?.location.file == "policies/clients.yaml")
        #expect(error?.location.line == 5)
        #expect(error?.field == "clients[0].signing_alg")
        #expect(error?.message.contains("unsupported signing algorithm \"ES384\"") == true, "\(String(describing: error))")
        #expect(error?.message.contains("ES256, RS256, PS256, EdDSA") == true)
    }

    @Test func refusesAnEmptySigningAlg() {
        let yaml = "roles:\n  - name: r\n    audiences: [x]\n    max_duration: 1h\n    signing_alg:\n"
        let error = #expect(throws: PolicyError.self) { try PolicyBundle.parseRoles(yaml, file: "r.yaml") }
        #expect(error?.field == "roles[0].signing_alg")
    }

    @Test func initialisersDefaultToNoSigningAlgorithm() {
        let role = RoleDefinition(name: "r", audiences: ["x"], defaultDurationSeconds: 60, maxDurationSeconds: 60,
                                  eligibility: Eligibility())
        #expect(role.signingAlgorithm == nil)
        let client = ClientDefinition(id: "c", authMethod: .none, scopes: [], audiences: [], location: SourceLocation(file: "t"))
        #expect(client.signingAlgorithm == nil)
    }
}
