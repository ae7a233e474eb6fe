import Foundation

/// glewlwyd 2.7 (Debian `glewlwyd`), an OAuth2/OIDC server in C, issuing ES256 JWT access tokens
/// for the client_credentials grant: the nearest open-source peer of `POST /token`. It runs from
/// a config file and a SQLite database of its own in a folder of the workspace; its OIDC plugin
/// and confidential clients are created through its admin API, as an operator would.
struct GlewlwydPeer {
    /// A confidential client, and the PBKDF2 iteration count its stored secret was hashed with.
    struct Client {
        let id: String
        let secret: String
        let iterations: Int

        var label: String { "glewlwyd /token \(Format.count(Double(iterations))) it." }

        /// The same form Tessera's bench client posts, to glewlwyd's token endpoint.
        var tokenRequest: LoadRequest {
            .clientCredentials(path: "/api/\(GlewlwydPeer.plugin)/token", id: id, secret: secret, scope: GlewlwydPeer.scope)
        }
    }

    static let plugin = "oidc"
    /// The scope Tessera's bench client requests, so both mint a token for the same scope.
    static let scope = TokenFixture.scopes[0]
    static let schema = "/usr/share/doc/glewlwyd/database/init.sqlite3.sql.gz"

    let baseURL: String
    /// The secret stored with glewlwyd's default hashing first, then the 1-iteration one.
    let clients: [Client]
    private let process: ChildProcess

    func stop() { process.stop() }

    /// What glewlwyd logged, for error messages.
    var output: String { process.output }

    static func start(cores: CoreSet, workspace: Workspace) async throws -> GlewlwydPeer {
        let executable = try await DebianPackage.executable("glewlwyd", package: "glewlwyd", workspace: workspace)
        let sqlite = try await DebianPackage.executable("sqlite3", package: "sqlite3", workspace: workspace)
        let openssl = try await DebianPackage.executable("openssl", package: "openssl", workspace: workspace)
        let folder = workspace.path("glewlwyd")
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: 0o700])
        func inFolder(_ name: String) -> String { (folder as NSString).appendingPathComponent(name) }
        let database = inFolder("glewlwyd.db")
        try await createDatabase(database, sqlite: sqlite, folder: folder, workspace: workspace)
        // A P-256 key pair, PEM: the OIDC plugin's `jwt-type` ecdsa with `jwt-key-size` 256 signs ES256.
        try await SetupCommand.run(openssl, ["ecparam", "-genkey", "-name", "prime256v1", "-noout", "-out", inFolder("es256.key")],
                                   name: "glewlwyd-keygen", workspace: workspace)
        try await SetupCommand.run(openssl, ["ec", "-in", inFolder("es256.key"), "-pubout", "-out", inFolder("es256.pub")],
                                   name: "glewlwyd-pubkey", workspace: workspace)
        let port = try LoopbackPort.free()
        let baseURL = "http://127.0.0.1:\(port)"
        let configPath = inFolder("glewlwyd.conf")
        try config(port: port, baseURL: baseURL, database: database, staticFolder: inFolder("webapp"))
            .write(toFile: configPath, atomically: true, encoding: .utf8)
        try FileManager.default.createDirectory(atPath: inFolder("webapp"), withIntermediateDirectories: true)

        let process = try ChildProcess(name: "glewlwyd-\(port)", executable: executable, arguments: ["--config-file=\(configPath)"],
                                       cores: cores, workspace: workspace)
        do {
            // `GET /config` is the one endpoint served from the root without a session.
            try await process.waitUntilServing(baseURL + "/config")
            let admin = try await GlewlwydAdmin.logIn(baseURL: baseURL)
            try await admin.write("POST", "/api/scope/", ["name": scope, "display_name": scope,
                                                          "description": "tessera-bench", "password_required": false])
            try await admin.write("POST", "/api/mod/plugin/", try pluginInstance(
                issuer: "\(baseURL)/api/\(plugin)",
                privateKey: String(contentsOfFile: inFolder("es256.key"), encoding: .utf8),
                publicKey: String(contentsOfFile: inFolder("es256.pub"), encoding: .utf8)))
            let clients = try await createClients(admin, sqlite: sqlite, database: database, workspace: workspace)
            return GlewlwydPeer(baseURL: baseURL, clients: clients, process: process)
        } catch {
            let log = process.output
            process.stop()
            throw BenchError(description: "glewlwyd setup failed: \(error)\nglewlwyd log:\n\(log)")
        }
    }

    /// One token request before the load: 200, and an access token that is a JWT whose header
    /// says ES256, or the load would measure errors or another algorithm.
    func checkTokenRequest(_ client: Client) async throws {
        let request = client.tokenRequest
        let (status, data) = try await request.sendOnce(to: baseURL)
        let answer = String(decoding: data, as: UTF8.self)
        func failure(_ reason: String) -> BenchError {
            BenchError(description: "glewlwyd POST \(request.path) (client \(client.id)) \(reason): \(answer)\nglewlwyd log:\n\(output)")
        }
        guard status == 200 else { throw failure("answered \(status), not 200") }
        struct TokenResponse: Decodable { let access_token: String }
        struct Header: Decodable { let alg: String }
        guard let token = try? JSONDecoder().decode(TokenResponse.self, from: data).access_token else {
            throw failure("answered 200 without an access_token")
        }
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, let headerData = Self.base64URLDecoded(String(parts[0])),
              let header = try? JSONDecoder().decode(Header.self, from: headerData) else {
            throw failure("answered an access token that is not a JWS compact JWT")
        }
        guard header.alg == "ES256" else { throw failure("signed its access token with \(header.alg), not ES256") }
    }

    /// The schema glewlwyd ships (it creates the admin user, the `database` user and client
    /// backends and their data formats), loaded into a fresh SQLite file.
    private static func createDatabase(_ database: String, sqlite: String, folder: String, workspace: Workspace) async throws {
        guard FileManager.default.fileExists(atPath: schema) else {
            throw BenchError(description: "glewlwyd's SQLite schema \(schema) is missing: it comes with the Debian package glewlwyd "
                + "(reinstall it with `apt-get install --reinstall -y glewlwyd` if /usr/share/doc was left out)")
        }
        let compressed = (folder as NSString).appendingPathComponent("init.sqlite3.sql.gz")
        try FileManager.default.copyItem(atPath: schema, toPath: compressed)
        let gzip = try Executable.find("gzip", hint: "apt-get install -y gzip")
        try await SetupCommand.run(gzip, ["-d", "-f", compressed], name: "glewlwyd-schema-gunzip", workspace: workspace)
        let sql = String(compressed.dropLast(".gz".count))
        try await SetupCommand.run(sqlite, ["-bail", database, ".read '\(sql)'"], name: "glewlwyd-schema", workspace: workspace)
    }

    /// The two confidential clients, both through `POST /api/client/`.
    ///
    /// How glewlwyd stores a client secret: its `database` client backend, on SQLite, writes
    /// `g_client.gc_password` as PBKDF2-SHA256, base64(digest and salt) followed by
    /// `,<iterations>`. New secrets are hashed with the backend's `pbkdf2-iterations` parameter
    /// (unset in the shipped schema: 150,000), and each stored secret is verified with the count
    /// written in it. So the 1-iteration client is made by setting `pbkdf2-iterations` to 1 on the
    /// backend instance (`PUT /api/mod/client/database`), resetting it so it rereads its
    /// parameters (`PUT /api/mod/client/database/reset`), and creating the second client: its
    /// `gc_password` ends in `,1` while the first one's keeps the default, and both authenticate
    /// against the same server. The counts are read back from the database, not assumed.
    private static func createClients(_ admin: GlewlwydAdmin, sqlite: String, database: String,
                                      workspace: Workspace) async throws -> [Client] {
        let defaultHashed = (id: "bench-client-default", secret: randomSecret())
        try await admin.write("POST", "/api/client/", clientObject(id: defaultHashed.id, secret: defaultHashed.secret))

        var backend = try await admin.read("/api/mod/client/database")
        var parameters = backend["parameters"] as? [String: Any] ?? [:]
        parameters["pbkdf2-iterations"] = 1
        backend["parameters"] = parameters
        backend.removeValue(forKey: "name")  // the name is the URL's; the update takes the other fields
        try await admin.write("PUT", "/api/mod/client/database", backend)
        try await admin.write("PUT", "/api/mod/client/database/reset", nil)

        let oneIteration = (id: "bench-client-1-iteration", secret: randomSecret())
        try await admin.write("POST", "/api/client/", clientObject(id: oneIteration.id, secret: oneIteration.secret))

        let stored = try await storedIterations(sqlite: sqlite, database: database, workspace: workspace)
        guard let defaultIterations = stored[defaultHashed.id], stored[oneIteration.id] == 1 else {
            throw BenchError(description: "glewlwyd stored the client secrets with PBKDF2 iteration counts \(stored), "
                + "not the default and 1: the 1-iteration recipe no longer applies to this glewlwyd")
        }
        return [Client(id: defaultHashed.id, secret: defaultHashed.secret, iterations: defaultIterations),
                Client(id: oneIteration.id, secret: oneIteration.secret, iterations: 1)]
    }

    /// client id -> the iteration count at the end of its stored `gc_password`.
    private static func storedIterations(sqlite: String, database: String, workspace: Workspace) async throws -> [String: Int] {
        let output = try await SetupCommand.run(sqlite, [database, "SELECT gc_client_id || ' ' || gc_password FROM g_client"],
                                                name: "glewlwyd-stored-secrets", workspace: workspace)
        var counts: [String: Int] = [:]
        for line in output.split(separator: "\n") {
            let fields = line.split(separator: " ")
            if fields.count == 2, let count = fields[1].split(separator: ",").last.flatMap({ Int($0) }) {
                counts[String(fields[0])] = count
            }
        }
        return counts
    }

    /// A confidential client allowed the client_credentials grant for the bench scope.
    /// `token_endpoint_auth_method` must name `client_secret_basic`: without it the OIDC plugin
    /// refuses the grant ("client_id invalid") even with the right secret.
    private static func clientObject(id: String, secret: String) -> [String: Any] {
        ["client_id": id, "name": id, "description": "tessera-bench", "confidential": true, "enabled": true,
         "password": secret, "scope": [scope], "authorization_type": ["client_credentials"],
         "token_endpoint_auth_method": ["client_secret_basic"], "redirect_uri": [String]()]
    }

    /// The OIDC plugin (`libprotocol_oidc.so`): ES256 from a PEM key pair, access tokens as JWTs
    /// (RFC 9068 `at+jwt`) for client_credentials only. The grant is OAuth2, not OIDC, hence
    /// `allow-non-oidc`. Tokens live 300 s, as Tessera's bench client's do.
    private static func pluginInstance(issuer: String, privateKey: String, publicKey: String) -> [String: Any] {
        ["module": "oidc", "name": plugin, "display_name": "tessera-bench OIDC", "enabled": true, "parameters": [
            "iss": issuer, "jwt-type": "ecdsa", "jwt-key-size": "256", "key": privateKey, "cert": publicKey,
            "access-token-duration": 300, "refresh-token-duration": 1_209_600, "code-duration": 600,
            "refresh-token-rolling": false, "allow-non-oidc": true,
            "auth-type-client-enabled": true, "auth-type-code-enabled": false, "auth-type-token-enabled": false,
            "auth-type-id-token-enabled": true, "auth-type-none-enabled": false, "auth-type-password-enabled": false,
            "auth-type-refresh-enabled": false, "auth-type-device-enabled": false,
        ] as [String: Any]]
    }

    /// Listening on loopback only, logging warnings and errors only (Tessera runs at warning
    /// level too: an info line per token would measure the logger). `use_secure_connection` is
    /// left out: glewlwyd 2.7.5 then serves plain HTTP, while `false` without certificate files
    /// makes it refuse to start. No user middleware folder: the package ships none.
    private static func config(port: Int, baseURL: String, database: String, staticFolder: String) -> String {
        """
        port=\(port)
        bind_address="127.0.0.1"
        external_url="\(baseURL)"
        login_url="login.html"
        api_prefix="api"
        static_files_path="\(staticFolder)/"
        log_mode="console"
        log_level="WARNING"
        cookie_secure=0
        admin_session_authentication="cookie"
        profile_session_authentication="cookie"
        admin_scope="g_admin"
        profile_scope="g_profile"
        user_module_path="/usr/lib/glewlwyd/user"
        client_module_path="/usr/lib/glewlwyd/client"
        user_auth_scheme_module_path="/usr/lib/glewlwyd/scheme"
        plugin_module_path="/usr/lib/glewlwyd/plugin"
        database =
        {
          type = "sqlite3"
          path = "\(database)"
        };

        """
    }

    /// 32 random bytes, base64url: nothing HTTP Basic or the form needs to escape.
    private static func randomSecret() -> String {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<32).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
        return Data(bytes).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
    }

    private static func base64URLDecoded(_ text: String) -> Data? {
        var base64 = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        base64 += String(repeating: "=", count: (4 - base64.count % 4) % 4)
        return Data(base64Encoded: base64)
    }
}
