import Foundation
import Testing
import TesseraPolicy

@Suite("upstreams.yaml parsing")
struct UpstreamsParsingTests {
    @Test func parsesEveryField() throws {
        let yaml = """
        upstreams:
          - id: corp
            description: Corporate SSO
            issuer: https://login.example.com/tenant/v2.0
            discovery: true
            audiences: tessera-cli
            algorithms: [RS256, PS256, ES256, EdDSA]
            leeway: 2m
            max_token_age: 1h
            max_auth_age: 12h
            claims:
              subject: oid
              email: upn
              groups: roles
              amr: methods
              acr: level
              auth_time: authenticated
              device_compliant: {claim: device_state, values: [true, "compliant", 1, "true"]}
          - id: gha
            issuer: https://token.actions.githubusercontent.com
            jwks_uri: https://token.actions.githubusercontent.com/.well-known/jwks
            audiences: [https://tessera.example.com]
          - id: air.gapped_1
            issuer: http://127.0.0.1:8080
            jwks_file: keys/idp.jwks.json
            audiences: [a, b]
        """
        let upstreams = try PolicyBundle.parseUpstreams(yaml, file: "upstreams.yaml")
        #expect(upstreams.map(\.id) == ["corp", "gha", "air.gapped_1"])
        let corp = upstreams[0]
        #expect(corp.description == "Corporate SSO")
        #expect(corp.issuer == "https://login.example.com/tenant/v2.0")
        #expect(corp.keys == .discovery)
        #expect(corp.discoveryURL == "https://login.example.com/tenant/v2.0/.well-known/openid-configuration")
        #expect(corp.audiences == ["tessera-cli"])
        #expect(corp.algorithms == ["RS256", "PS256", "ES256", "EdDSA"])
        #expect(corp.leewaySeconds == 120)
        #expect(corp.maximumTokenAgeSeconds == 3600)
        #expect(corp.maximumAuthenticationAgeSeconds == 43200)
        #expect(corp.claims == UpstreamClaimMapping(
            subject: "oid", email: "upn", groups: "roles", authenticationMethods: "methods", authenticationContext: "level",
            authenticationTime: "authenticated",
            deviceCompliance: DeviceComplianceMapping(claim: "device_state", values: [.bool(true), .string("compliant"), .number(1), .string("true")])))
        #expect(corp.location.line == 2)

        let gha = upstreams[1]
        #expect(gha.keys == .jwksURI("https://token.actions.githubusercontent.com/.well-known/jwks"))
        #expect(gha.algorithms == UpstreamDefinition.defaultAlgorithms)
        #expect(gha.leewaySeconds == 60)
        #expect(gha.maximumTokenAgeSeconds == nil)
        #expect(gha.maximumAuthenticationAgeSeconds == nil)
        #expect(gha.claims == UpstreamClaimMapping())
        #expect(gha.claims.subject == "sub" && gha.claims.groups == "groups" && gha.claims.authenticationMethods == "amr")
        #expect(upstreams[2].keys == .file(path: "keys/idp.jwks.json"))
    }

    @Test func deviceComplianceDefaultsToTrue() throws {
        let yaml = "upstreams:\n  - id: a\n    issuer: https://a.example\n    discovery: true\n    audiences: [x]\n"
            + "    claims: {device_compliant: {claim: compliant}}\n"
        let upstream = try #require(try PolicyBundle.parseUpstreams(yaml, file: "u.yaml").first)
        #expect(upstream.claims.deviceCompliance == DeviceComplianceMapping(claim: "compliant", values: [.bool(true)]))
    }

    @Test func loginIsWhatTheCLISignsInWith() throws {
        let yaml = "upstreams:\n  - id: a\n    issuer: https://a.example\n    discovery: true\n    audiences: [x, tessera-cli]\n"
            + "    login: {client_id: tessera-cli, scopes: [openid, email, offline_access]}\n"
        let upstream = try #require(try PolicyBundle.parseUpstreams(yaml, file: "u.yaml").first)
        #expect(upstream.cliLogin == UpstreamDefinition.CLILogin(clientID: "tessera-cli", scopes: ["openid", "email", "offline_access"]))
        let plain = try #require(try PolicyBundle.parseUpstreams(Self.head + "    discovery: true\n    audiences: [x]\n", file: "u.yaml").first)
        #expect(plain.cliLogin == nil)
    }

    @Test func emptyOrNullUpstreamListIsEmpty() throws {
        #expect(try PolicyBundle.parseUpstreams("", file: "u.yaml").isEmpty)
        #expect(try PolicyBundle.parseUpstreams("upstreams:\n", file: "u.yaml").isEmpty)
        #expect(try PolicyBundle.parseUpstreams("upstreams: []\n", file: "u.yaml").isEmpty)
    }

    static let head = "upstreams:\n  - id: a\n    issuer: https://a.example\n"

    /// Each broken file is refused with an error naming the file, line, column and field.
    @Test("rejects broken files naming line and field", arguments: [
        (head + "    discovery: true\n    audience: [x]\n", 5, "upstreams[0].audience", "unknown field"),
        (head + "    discovery: true\n", 2, "upstreams[0]", "needs audiences"),
        (head + "    audiences: [x]\n", 2, "upstreams[0]", "exactly one of jwks_uri, discovery: true or jwks_file"),
        (head + "    discovery: true\n    jwks_uri: https://a.example/jwks\n    audiences: [x]\n", 2, "upstreams[0]", "it has jwks_uri, discovery"),
        (head + "    discovery: false\n    audiences: [x]\n", 4, "upstreams[0].discovery", "gives no keys"),
        (head + "    jwks_uri: http://a.example/jwks\n    audiences: [x]\n", 4, "upstreams[0].jwks_uri", "https"),
        (head + "    discovery: true\n    audiences: [x]\n    algorithms: [RS256, HS256]\n", 6, "upstreams[0].algorithms", "unsupported algorithm \"HS256\""),
        (head + "    discovery: true\n    audiences: [x]\n    algorithms: [none]\n", 6, "upstreams[0].algorithms", "unsupported algorithm"),
        (head + "    discovery: true\n    audiences: [x]\n    leeway: 6m\n", 6, "upstreams[0].leeway", "at most 5m"),
        (head + "    discovery: true\n    audiences: [x]\n    max_token_age: soon\n", 6, "upstreams[0].max_token_age", "duration"),
        (head + "    discovery: true\n    audiences: [x]\n    max_auth_age: 0\n", 6, "upstreams[0].max_auth_age", "longer than 0s"),
        (head + "    discovery: true\n    audiences: [x]\n    claims: {group: roles}\n", 6, "upstreams[0].claims.group", "unknown field"),
        (head + "    discovery: true\n    audiences: [x]\n    claims:\n      device_compliant: {values: [true]}\n", 7,
         "upstreams[0].claims.device_compliant", "needs claim"),
        ("upstreams:\n  - id: Corp\n    issuer: https://a.example\n    discovery: true\n    audiences: [x]\n", 2, "upstreams[0].id", "lowercase"),
        ("upstreams:\n  - id: a\n    issuer: http://a.example\n    discovery: true\n    audiences: [x]\n", 3, "upstreams[0].issuer", "https"),
        ("upstreams:\n  - id: a\n    discovery: true\n    audiences: [x]\n", 2, "upstreams[0]", "needs an \"issuer\""),
        (head + "    discovery: true\n    audiences: [x]\n    login: {client_id: cli}\n", 6, "upstreams[0].login.client_id", "not among this upstream's audiences"),
        (head + "    discovery: true\n    audiences: [cli]\n    login: {client_id: cli, scopes: [email]}\n", 6, "upstreams[0].login.scopes", "must include openid"),
        (head + "    discovery: true\n    audiences: [cli]\n    login: {client_id: cli, client_secret: s}\n", 6, "upstreams[0].login.client_secret", "unknown field"),
        // `dev` belongs to `tessera serve --dev`: a real IdP of that name would share its subjects.
        ("upstreams:\n  - id: dev\n    issuer: https://a.example\n    discovery: true\n    audiences: [x]\n", 2, "upstreams[0].id", "reserved"),
    ])
    func rejectsBrokenFiles(yaml: String, line: Int, field: String, message: String) {
        let error = #expect(throws: PolicyError.self) { try PolicyBundle.parseUpstreams(yaml, file: "policies/upstreams.yaml") }
        #expect(error?.location.file == "policies/upstreams.yaml")
        #expect(error?.location.line == line, "\(String(describing: error))")
        #expect(error?.location.column != nil)
        #expect(error?.field == field, "\(String(describing: error))")
        #expect(error?.message.contains(message) == true, "\(String(describing: error))")
        #expect(error?.description.hasPrefix("policies/upstreams.yaml:\(line):") == true)
    }

    @Test func refusesDuplicateIDsAndIssuers() {
        let entry = { (id: String, issuer: String) in "  - id: \(id)\n    issuer: \(issuer)\n    discovery: true\n    audiences: [x]\n" }
        let ids = #expect(throws: PolicyError.self) {
            try PolicyBundle.parseUpstreams("upstreams:\n" + entry("a", "https://a.example") + entry("a", "https://b.example"), file: "u.yaml")
        }
        #expect(ids?.location.line == 6)
        #expect(ids?.message.contains("already declared at u.yaml:2") == true, "\(String(describing: ids))")
        let issuers = #expect(throws: PolicyError.self) {
            try PolicyBundle.parseUpstreams("upstreams:\n" + entry("a", "https://a.example") + entry("b", "https://a.example"), file: "u.yaml")
        }
        #expect(issuers?.message.contains("issuer \"https://a.example\" is already declared") == true, "\(String(describing: issuers))")
    }

    @Test func reportsYAMLSyntaxErrorsWithAPosition() {
        let error = #expect(throws: PolicyError.self) {
            try PolicyBundle.parseUpstreams("upstreams:\n  - id: a\n    issuer: [unclosed\n", file: "u.yaml")
        }
        #expect(error?.location.line != nil)
        #expect(error?.message.contains("invalid YAML") == true)
    }

    @Test func acceptsLoopbackHTTPOnly() {
        #expect(UpstreamDefinition.isAcceptableURL("https://idp.example.com"))
        #expect(UpstreamDefinition.isAcceptableURL("http://127.0.0.1:5000"))
        #expect(UpstreamDefinition.isAcceptableURL("http://localhost/realms/x"))
        #expect(UpstreamDefinition.isAcceptableURL("http://[::1]:8080"))
        #expect(!UpstreamDefinition.isAcceptableURL("http://idp.example.com"))
        #expect(!UpstreamDefinition.isAcceptableURL("ftp://idp.example.com"))
        #expect(!UpstreamDefinition.isAcceptableURL("https://user:pw@idp.example.com"))
        #expect(!UpstreamDefinition.isAcceptableURL("idp.example.com"))
    }

    /// The example bundle shipped in policies/ loads, with its three example upstreams.
    @Test func theExampleBundleLoads() throws {
        let policies = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("policies").path
        let bundle = try PolicyBundle.load(directory: policies)
        #expect(bundle.upstreams.map(\.id) == ["corp", "partner-idp", "github-actions"])
        #expect(bundle.upstream(id: "corp")?.keys == .discovery)
        #expect(bundle.upstream(id: "github-actions")?.issuer == "https://token.actions.githubusercontent.com")
    }

    @Test func aBundleWithoutUpstreamsFileHasNoUpstreams() throws {
        let directory = NSTemporaryDirectory() + "tessera-upstreams-\(UUID())"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        #expect(try PolicyBundle.load(directory: directory).upstreams.isEmpty)
        try "upstreams:\n  - id: a\n    issuer: https://a.example\n    discovery: yes\n    audiences: [x]\n    leeway: 10m\n"
            .write(toFile: directory + "/upstreams.yaml", atomically: true, encoding: .utf8)
        let error = #expect(throws: PolicyError.self) { try PolicyBundle.load(directory: directory) }
        #expect(error?.location.file.hasSuffix("/upstreams.yaml") == true)
        #expect(error?.location.line == 6)
    }
}
