import Foundation
import Testing
import TesseraPolicy

private let hash = String(repeating: "ab", count: 32)

@Suite("clients.yaml parsing")
struct ClientsParsingTests {
    @Test func parsesEveryField() throws {
        let yaml = """
        # comment
        clients:
          - id: ci-deployer
            description: Deploys from CI
            auth_method: client_secret_post
            secret_sha256: "\(hash)"
            scopes: [deploy:read, deploy:write]
            audiences: https://api.example.com
            token_lifetime: 15m
          - id: batch
            jwks:
              keys:
                - {kty: OKP, crv: Ed25519, x: 11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo}
            audiences: [https://a.example, https://b.example]
          - id: filed
            jwks_file: batch.jwks.json
            audiences: [https://a.example]
        """
        let clients = try PolicyBundle.parseClients(yaml, file: "clients.yaml")
        #expect(clients.count == 3)
        let deployer = clients[0]
        #expect(deployer.id == "ci-deployer")
        #expect(deployer.description == "Deploys from CI")
        #expect(deployer.authMethod == .clientSecretPost)
        #expect(deployer.secretSHA256 == hash)
        #expect(deployer.scopes == ["deploy:read", "deploy:write"])
        #expect(deployer.audiences == ["https://api.example.com"])
        #expect(deployer.tokenLifetimeSeconds == 900)
        #expect(deployer.location.line == 3)
        #expect(clients[1].authMethod == .privateKeyJWT)
        #expect(clients[1].tokenLifetimeSeconds == ClientDefinition.defaultTokenLifetime)
        guard case .inline(let keys, _) = clients[1].keys else { Issue.record("expected inline keys"); return }
        #expect(keys.first?["crv"] == "Ed25519")
        guard case .file(let path, _) = clients[2].keys else { Issue.record("expected a key file"); return }
        #expect(path == "batch.jwks.json")
    }

    @Test func parsesPublicClientsWithoutSecretsOrAudiences() throws {
        let clients = try PolicyBundle.parseClients("clients:\n  - id: tessera-cli\n    public: true\n", file: "clients.yaml")
        #expect(clients.first?.authMethod == ClientAuthMethod.none)
        #expect(clients.first?.audiences == [])
        #expect(clients.first?.secretSHA256 == nil)
    }

    @Test func emptyOrNullClientListIsEmpty() throws {
        #expect(try PolicyBundle.parseClients("", file: "c.yaml").isEmpty)
        #expect(try PolicyBundle.parseClients("clients:\n", file: "c.yaml").isEmpty)
        #expect(try PolicyBundle.parseClients("clients: []\n", file: "c.yaml").isEmpty)
    }

    /// Each broken file is refused with an error naming the line and the field.
    @Test("rejects broken files naming line and field", arguments: [
        ("clients:\n  - id: a\n    audience: [x]\n    secret_sha256: \"\(hash)\"\n", 3, "clients[0].audience", "unknown field"),
        ("clients:\n  - id: a\n    secret_sha256: nothex\n    audiences: [x]\n", 3, "clients[0].secret_sha256", "64 hexadecimal"),
        ("clients:\n  - id: a\n    secret_sha256: \"\(hash)\"\n", 2, "clients[0]", "audiences"),
        ("clients:\n  - id: a\n    secret_sha256: \"\(hash)\"\n    audiences: [x]\n    token_lifetime: 2h\n", 5, "clients[0].token_lifetime", "between"),
        ("clients:\n  - id: a\n    secret_sha256: \"\(hash)\"\n    audiences: [x]\n    token_lifetime: soon\n", 5, "clients[0].token_lifetime", "duration"),
        ("clients:\n  - id: a b\n    audiences: [x]\n", 2, "clients[0].id", "letters"),
        ("clients:\n  - id: a\n    audiences: [x]\n", 2, "clients[0]", "secret_sha256"),
        ("clients:\n  - id: a\n    auth_method: private_key_jwt\n    audiences: [x]\n", 2, "clients[0]", "jwks"),
        ("clients:\n  - id: a\n    auth_method: magic\n    audiences: [x]\n", 3, "clients[0].auth_method", "unknown auth method"),
        ("clients:\n  - id: a\n    secret_sha256: \"\(hash)\"\n    audiences: [x]\n    scopes: [\"has space\"]\n", 5, "clients[0].scopes", "not a valid scope"),
        ("clients:\n  - id: a\n    secret_sha256: \"\(hash)\"\n    audiences: [x]\n  - id: a\n    secret_sha256: \"\(hash)\"\n    audiences: [x]\n", 5, "clients[1]", "already declared"),
        ("client:\n  - id: a\n", 1, "client", "unknown field"),
        ("clients:\n  - id: cli\n    public: true\n    secret_sha256: \"\(hash)\"\n", 2, "clients[0]", "holds no secret_sha256"),
        ("clients:\n  - id: cli\n    public: true\n    auth_method: client_secret_basic\n", 4, "clients[0].auth_method", "authenticates with nothing"),
        ("clients:\n  - id: cli\n    auth_method: none\n", 3, "clients[0].auth_method", "public: true"),
        ("clients:\n  - id: cli\n    public: true\n    signing_alg: HS256\n", 4, "clients[0].signing_alg", "unsupported signing algorithm \"HS256\""),
        // Security review, finding 9: anyone could introspect as a public client.
        ("clients:\n  - id: pubintro\n    public: true\n    can_introspect: true\n", 4, "clients[0].can_introspect", "may not introspect"),
        // Finding 8: tessera: scopes belong to admin tokens.
        ("clients:\n  - id: a\n    secret_sha256: \"\(hash)\"\n    audiences: [x]\n    scopes: [read, tessera:admin]\n", 5, "clients[0].scopes", "reserved"),
    ])
    func rejectsBrokenFiles(yaml: String, line: Int, field: String, message: String) {
        let error = #expect(throws: PolicyError.self) { try PolicyBundle.parseClients(yaml, file: "policies/clients.yaml") }
        #expect(error?.location.file == "policies/clients.yaml")
        #expect(error?.location.line == line, "\(String(describing: error))")
        #expect(error?.field == field, "\(String(describing: error))")
        #expect(error?.message.contains(message) == true, "\(String(describing: error))")
        #expect(error?.description.hasPrefix("policies/clients.yaml:\(line):") == true)
    }

    @Test func reportsYAMLSyntaxErrorsWithTheirLine() {
        let yaml = "clients:\n  - id: a\n    audiences: [x\n    scopes: y\n"
        let error = #expect(throws: PolicyError.self) { try PolicyBundle.parseClients(yaml, file: "c.yaml") }
        #expect(error?.message.hasPrefix("invalid YAML") == true)
        #expect(error?.location.line != nil)
    }

    @Test func missingFolderIsAnEmptyBundle() throws {
        let bundle = try PolicyBundle.load(directory: "/nonexistent/\(UUID())")
        #expect(bundle.clients.isEmpty)
    }

    @Test func anEmptyFileIsAnEmptyDocument() throws {
        let root = NSTemporaryDirectory() + "tessera-policy-\(UUID())"
        try FileManager.default.createDirectory(atPath: root + "/roles", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: root) }
        for name in ["clients.yaml", "networks.yaml", "roles/empty.yaml"] {
            #expect(FileManager.default.createFile(atPath: root + "/" + name, contents: Data()))
        }
        let bundle = try PolicyBundle.load(directory: root)
        #expect(bundle.clients.isEmpty && bundle.roles.isEmpty)
    }

    /// Bytes that are not UTF-8 in clients.yaml or a role file: the file is named, the bundle not loaded.
    @Test(arguments: ["clients.yaml", "roles/payments.yaml"])
    func aFileThatIsNotUTF8IsRefusedByName(_ name: String) throws {
        let root = NSTemporaryDirectory() + "tessera-policy-\(UUID())"
        try FileManager.default.createDirectory(atPath: root + "/roles", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: root) }
        try Data("clients: []\n# caf\u{E9}".utf8.dropLast() + [0xE9, 0xFF, 0x0A]).write(to: URL(fileURLWithPath: root + "/" + name))
        let error = #expect(throws: PolicyError.self) { try PolicyBundle.load(directory: root) }
        #expect(error?.message == "cannot read the file: it is not UTF-8 text")
        #expect(error?.location.file.hasSuffix(name) == true)
    }
}

@Suite("clients.yaml editing")
struct ClientsFileEditorTests {
    func temporaryDirectory() throws -> String {
        let path = NSTemporaryDirectory() + "tessera-policy-\(UUID())"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    func client(_ id: String) -> ClientDefinition {
        ClientDefinition(id: id, authMethod: .clientSecretBasic, secretSHA256: hash, scopes: ["read"],
                         audiences: ["https://api.example.com"], location: SourceLocation(file: "test"))
    }

    @Test func createsTheFileWhenMissing() throws {
        let directory = try temporaryDirectory()
        let editor = ClientsFileEditor(policiesDirectory: directory)
        try editor.append(client("first"))
        let bundle = try PolicyBundle.load(directory: directory)
        #expect(bundle.clients.map(\.id) == ["first"])
        #expect(bundle.clients[0].secretSHA256 == hash)
    }

    @Test func keepsCommentsAndExistingClients() throws {
        let directory = try temporaryDirectory()
        let original = "# Reviewed in git.\nclients:\n# the deployer\n- id: old\n  secret_sha256: \"\(hash)\"\n  audiences: [x]\n"
        try original.write(toFile: directory + "/clients.yaml", atomically: true, encoding: .utf8)
        try ClientsFileEditor(policiesDirectory: directory).append(client("new"))
        let text = try String(contentsOfFile: directory + "/clients.yaml", encoding: .utf8)
        #expect(text.hasPrefix(original))
        #expect(try PolicyBundle.load(directory: directory).clients.map(\.id) == ["old", "new"])
    }

    @Test func replacesAnEmptyFlowList() throws {
        let directory = try temporaryDirectory()
        try "clients: []\n".write(toFile: directory + "/clients.yaml", atomically: true, encoding: .utf8)
        try ClientsFileEditor(policiesDirectory: directory).append(client("only"))
        #expect(try PolicyBundle.load(directory: directory).clients.map(\.id) == ["only"])
    }

    @Test func refusesDuplicatesAndLeavesTheFileUntouched() throws {
        let directory = try temporaryDirectory()
        let editor = ClientsFileEditor(policiesDirectory: directory)
        try editor.append(client("same"))
        let before = try String(contentsOfFile: editor.path, encoding: .utf8)
        #expect(throws: PolicyError.self) { try editor.append(client("same")) }
        #expect(try String(contentsOfFile: editor.path, encoding: .utf8) == before)
    }

    @Test func refusesToEditABrokenFile() throws {
        let directory = try temporaryDirectory()
        let broken = "clients:\n  - id: [oops\n"
        try broken.write(toFile: directory + "/clients.yaml", atomically: true, encoding: .utf8)
        #expect(throws: PolicyError.self) { try ClientsFileEditor(policiesDirectory: directory).append(client("x")) }
        #expect(try String(contentsOfFile: directory + "/clients.yaml", encoding: .utf8) == broken)
    }

    @Test func roundTripsSigningAlg() throws {
        let directory = try temporaryDirectory()
        var legacy = client("legacy")
        legacy.signingAlgorithm = "RS256"
        let block = try ClientsFileEditor(policiesDirectory: directory).append(legacy)
        try ClientsFileEditor(policiesDirectory: directory).append(client("plain"))
        #expect(block.contains("signing_alg: \"RS256\""))
        let clients = try PolicyBundle.load(directory: directory).clients
        #expect(clients.map(\.signingAlgorithm) == ["RS256", nil])
        #expect(!(try String(contentsOfFile: directory + "/clients.yaml", encoding: .utf8)).contains("signing_alg: null"))
    }

    @Test func quotesHostileStrings() throws {
        let directory = try temporaryDirectory()
        var hostile = client("q")
        hostile.description = "says \"hi\"\nand: [breaks] # yaml"
        try ClientsFileEditor(policiesDirectory: directory).append(hostile)
        #expect(try PolicyBundle.load(directory: directory).clients.first?.description == hostile.description)
    }
}
