import Foundation
import Testing
import TesseraJWT

/// The engineer's and approver's CLI as subprocesses against a live `tessera serve`: each
/// person is a process of their own with their identity token in TESSERA_SUBJECT_TOKEN.
@Suite("tessera token and the approver's commands", .serialized)
struct ClientCommandTests {
    /// A server whose issuer is its real address (the CLI follows its discovery document), and
    /// a temporary home for the CLI's config and cache.
    struct Setup {
        let bundle: ReviewBundle
        let server: ReviewServer
        let home: String
        let tessera: String

        static func start() async throws -> Setup {
            let tessera = try ActivationFlowTests.tesseraExecutable()
            let bundle = try ReviewBundle()
            try ActivationFlowTests.roles.write(toFile: bundle.root + "/policies/roles/approvals.yaml", atomically: true, encoding: .utf8)
            let port = try LoopbackSocket.freePort()
            let issuer = "http://127.0.0.1:\(port)"
            let arguments = ["--keys", bundle.root + "/keys", "--policies", bundle.root + "/policies", "--data", bundle.root + "/data",
                             "--issuer", issuer]
            let server = try await ReviewServer.start(tessera, bundle, arguments: arguments, listen: "127.0.0.1:\(port)")
            let home = bundle.root + "/home"
            try FileManager.default.createDirectory(atPath: home, withIntermediateDirectories: true)
            return Setup(bundle: bundle, server: server, home: home, tessera: tessera)
        }

        var url: String { "http://127.0.0.1:\(server.port)" }

        /// The CLI as `subject` (in `groups`), with its own config and cache folders.
        func tessera(_ arguments: [String], as subject: String, groups: [String], extra: [String: String] = [:]) async throws -> ProcessResult {
            try await run(tessera, arguments, timeout: 60, environment: try environment(subject, groups, extra: extra))
        }

        func environment(_ subject: String, _ groups: [String], extra: [String: String] = [:]) throws -> [String: String] {
            var environment = [
                "PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin", "HOME": home,
                "XDG_CONFIG_HOME": home + "/\(subject)/config", "XDG_CACHE_HOME": home + "/\(subject)/cache",
                "TESSERA_URL": url, "TESSERA_SUBJECT_TOKEN": try bundle.identityToken(subject: subject, groups: groups),
            ]
            environment.merge(extra) { $1 }
            return environment
        }

        /// `tessera ARGS` started in the background as `subject`; its output when it ends.
        func background(_ arguments: [String], as subject: String, groups: [String]) throws -> (Process, Pipe, Pipe) {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: tessera)
            process.arguments = arguments
            process.environment = try environment(subject, groups)
            let (output, error) = (Pipe(), Pipe())
            process.standardOutput = output
            process.standardError = error
            try process.run()
            return (process, output, error)
        }

        func tokensIssued() async throws -> Int {
            try await bundle.auditExport(tessera).filter { $0.contains(#""event":"token.issued""#) }.count
        }
    }

    static func finish(_ started: (Process, Pipe, Pipe)) async throws -> ProcessResult {
        try await collect(started.0, output: started.1, error: started.2)
    }

    /// The id of the one pending request bob can approve, once there is one.
    static func pendingRequest(_ setup: Setup, approver: String = "bob", groups: [String] = ["leads"]) async throws -> String {
        for _ in 0..<100 {
            let listed = try await setup.tessera(["requests", "--to-approve", "--json"], as: approver, groups: groups)
            let items = (try? JSONSerialization.jsonObject(with: Data(listed.output.utf8)) as? [String: Any])?["items"] as? [[String: Any]]
            if let id = items?.first?["id"] as? String { return id }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw SetupError(description: "no request appeared")
    }

    struct SetupError: Error, CustomStringConvertible {
        let description: String
    }

    /// Every command an engineer or approver types shows how it is used.
    @Test func everyClientCommandsHelpHasAnExample() async throws {
        let tessera = try ActivationFlowTests.tesseraExecutable()
        let commands = ["login", "logout", "token", "status", "requests", "show", "approve", "deny", "cancel", "review", "extend", "end",
                        "verify", "config init", "config show"]
        for command in commands {
            let help = try await run(tessera, command.split(separator: " ").map(String.init) + ["--help"])
            #expect(help.status == 0, "\(command): \(help.error)")
            #expect(help.output.contains("Example"), "tessera \(command) --help shows no example:\n\(help.output)")
        }
    }

    @Test func allowedDeniedAndCached() async throws {
        let setup = try await Setup.start()
        defer { setup.server.kill() }
        let first = try await setup.tessera(["token", "fresh-auth"], as: "alice", groups: ["sre"])
        #expect(first.status == 0, "\(first.error)")
        let token = first.output.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(ReviewBundle.claims(of: token)?["roles"] as? [String] == ["fresh-auth"])
        // kubectl runs the plugin on every call: the cached token answers without the server.
        let credential = try await setup.tessera(["token", "fresh-auth", "--output", "exec-credential"], as: "alice", groups: ["sre"])
        #expect(credential.status == 0)
        let object = try JSONSerialization.jsonObject(with: Data(credential.output.utf8)) as? [String: Any]
        #expect(object?["apiVersion"] as? String == "client.authentication.k8s.io/v1")
        #expect(object?["kind"] as? String == "ExecCredential")
        let status = object?["status"] as? [String: Any]
        #expect(status?["token"] as? String == token)
        #expect((status?["expirationTimestamp"] as? String).flatMap(RFC3339Date.parse) != nil)
        #expect(try await setup.tokensIssued() == 1, "the second call reached the server")
        let cacheFiles = try FileManager.default.contentsOfDirectory(atPath: setup.home + "/alice/cache/tessera")
        #expect(!cacheFiles.isEmpty)
        let tokens = setup.home + "/alice/cache/tessera/" + cacheFiles[0] + "/tokens"
        let attributes = try FileManager.default.attributesOfItem(atPath: tokens)
        #expect((attributes[.posixPermissions] as? Int) == 0o700)
        for file in try FileManager.default.contentsOfDirectory(atPath: tokens) where file.hasSuffix(".json") {
            #expect((try FileManager.default.attributesOfItem(atPath: tokens + "/" + file)[.posixPermissions] as? Int) == 0o600)
        }

        let denied = try await setup.tessera(["token", "ticketed"], as: "alice", groups: ["sre"])
        #expect(denied.status == 3)
        #expect(denied.error.contains("role ticketed denied:\n  - justification required"), "\(denied.error)")
        let forged = try await setup.tessera(["token", "fresh-auth", "--no-cache"], as: "alice", groups: ["sre"],
                                             extra: ["TESSERA_SUBJECT_TOKEN": "not-a-token"])
        #expect(forged.status == 77, "\(forged.error)")
        let unreachable = try await setup.tessera(["token", "fresh-auth", "--no-cache"], as: "alice", groups: ["sre"],
                                                  extra: ["TESSERA_URL": "http://127.0.0.1:9", "TESSERA_NETWORK_TIMEOUT": "0"])
        #expect(unreachable.status == 69, "\(unreachable.error)")
        #expect(unreachable.error.contains("cannot reach http://127.0.0.1:9"))
        try await setup.server.stop()
    }

    @Test func waitsThroughTwoStagesWhileApproversActFromOtherProcesses() async throws {
        let setup = try await Setup.start()
        defer { setup.server.kill() }
        let waiting = try setup.background(["token", "two-stage", "--reason", "INC-7 failover"], as: "alice", groups: ["sre"])
        let id = try await Self.pendingRequest(setup)
        // Asking again reuses the pending request: nobody is paged twice.
        let again = try await setup.tessera(["token", "two-stage", "--reason", "INC-7 failover", "--no-wait"], as: "alice", groups: ["sre"])
        #expect(again.status == 4)
        #expect(again.error.contains("request \(id) waits for approval"), "\(again.error)")
        let shown = try await setup.tessera(["show", id], as: "bob", groups: ["leads"])
        #expect(shown.output.contains("reason      INC-7 failover"), "\(shown.output)")
        #expect(try await setup.tessera(["approve", id, "--comment", "ok"], as: "bob", groups: ["leads"]).output.contains("\(id): pending"))
        try await Task.sleep(for: .milliseconds(500))
        let approved = try await setup.tessera(["approve", id], as: "carol", groups: ["security"])
        #expect(approved.output.contains("approved, activation act_"), "\(approved.output) \(approved.error)")
        let result = try await Self.finish(waiting)
        #expect(result.status == 0, "\(result.error)")
        #expect(ReviewBundle.claims(of: result.output.trimmingCharacters(in: .whitespacesAndNewlines))?["act_id"] as? String != nil)
        #expect(result.error.contains("two-stage needs approval: request \(id)"))
        #expect(result.error.contains("stage 1 approved by test-idp:bob; waiting for stage 2"), "\(result.error)")
        #expect(result.error.contains("approved (stage 1 approved by test-idp:bob; stage 2 approved by test-idp:carol)"))
        try await setup.server.stop()
    }

    @Test func noWaitResumeDenialBreakGlassExtendAndEnd() async throws {
        let setup = try await Setup.start()
        defer { setup.server.kill() }
        let asked = try await setup.tessera(["token", "one-stage", "--no-wait"], as: "alice", groups: ["sre"])
        #expect(asked.status == 4)
        let id = try await Self.pendingRequest(setup)
        #expect(asked.error.contains("tessera token one-stage --request \(id)"))
        _ = try await setup.tessera(["approve", id], as: "bob", groups: ["leads"])
        let resumed = try await setup.tessera(["token", "one-stage", "--request", id], as: "alice", groups: ["sre"])
        #expect(resumed.status == 0, "\(resumed.error)")
        let token = resumed.output.trimmingCharacters(in: .whitespacesAndNewlines)

        let status = try await setup.tessera(["status"], as: "alice", groups: ["sre"])
        #expect(status.output.contains("one-stage"), "\(status.output)")
        let extended = try await setup.tessera(["extend", "one-stage", "--duration", "10m"], as: "alice", groups: ["sre"])
        #expect(extended.status == 0 && extended.output.contains("ends at"), "\(extended.output) \(extended.error)")
        let ended = try await setup.tessera(["end", "one-stage", "--reason", "done"], as: "alice", groups: ["sre"])
        #expect(ended.output.contains("ended; its tokens are revoked"), "\(ended.output) \(ended.error)")
        let introspected = try await setup.server.send(["token": token], path: "/introspect", authorization: setup.bundle.resourceServerAuthorization)
        #expect(introspected.body["active"] as? Bool == false)

        // A denial ends the wait with exit 5 and the approver's reason.
        let waiting = try setup.background(["token", "one-stage"], as: "dave", groups: ["sre"])
        let denied = try await Self.pendingRequest(setup)
        #expect(try await setup.tessera(["deny", denied], as: "bob", groups: ["leads"]).status == 64, "deny needs --comment")
        _ = try await setup.tessera(["deny", denied, "--comment", "not during the freeze"], as: "bob", groups: ["leads"])
        let result = try await Self.finish(waiting)
        #expect(result.status == 5)
        #expect(result.error.contains("was denied by test-idp:bob: not during the freeze"), "\(result.error)")

        let glass = try await setup.tessera(["token", "two-stage", "--break-glass", "--reason", "payments down, nobody answers"],
                                            as: "erin", groups: ["sre"])
        #expect(glass.status == 0, "\(glass.error)")
        #expect(ReviewBundle.claims(of: glass.output.trimmingCharacters(in: .whitespacesAndNewlines))?["break_glass"] as? Bool == true)
        let reviews = try await setup.tessera(["status", "--reviews"], as: "bob", groups: ["leads"])
        let activation = try #require(reviews.output.split(separator: "\n").dropFirst().first?.split(separator: " ").first.map(String.init))
        let reviewed = try await setup.tessera(["review", activation, "--comment", "checked"], as: "bob", groups: ["leads"])
        #expect(reviewed.status == 0, "\(reviewed.error)")
        try await setup.server.stop()
    }
}

extension ClientCommandTests {
    /// What a person sees on a terminal, under tmux: the status line rewritten in place, the
    /// first stage's approval shown as it lands, and Ctrl-C offering to cancel the request.
    @Test func aTerminalShowsTheLiveStatusAndCtrlCOffersToCancel() async throws {
        guard let tmux = which("tmux") else { return peerMissing("tmux (apt-get install tmux)") }
        let setup = try await Setup.start()
        defer { setup.server.kill() }
        let session = "tessera-\(UUID().uuidString.prefix(8))"
        let socket = setup.home + "/tmux.sock"
        let environment = try setup.environment("alice", ["sre"])
        let exports = environment.map { "\($0.key)='\($0.value)'" }.sorted().joined(separator: " ")
        let command = "env \(exports) \(setup.tessera) token two-stage --reason 'INC-9 failover'; echo EXIT=$?; sleep 30"
        func tmuxRun(_ arguments: [String]) async throws -> ProcessResult {
            try await run(tmux, ["-S", socket] + arguments, environment: ["PATH": environment["PATH"]!, "HOME": setup.home, "TERM": "xterm"])
        }
        func screen() async throws -> String { try await tmuxRun(["capture-pane", "-p", "-t", session]).output }
        /// Waits for `text` on the screen; records an issue with the screen when it never shows.
        func expectOnScreen(_ text: String) async throws {
            var last = ""
            for _ in 0..<150 {
                last = try await screen()
                if last.contains(text) { return }
                try await Task.sleep(for: .milliseconds(100))
            }
            Issue.record("never on the screen: \(text)\n\(last)")
        }
        // The tmux server outlives its client: started through system(3), which waits for
        // the client alone (Process would keep waiting on the pipes the server inherits).
        let script = setup.home + "/waiting.sh"
        // The shell survives the Ctrl-C meant for tessera, so the exit status shows.
        try ("trap true INT\n" + command + "\n").write(toFile: script, atomically: true, encoding: .utf8)
        let started = system("TERM=xterm '\(tmux)' -S '\(socket)' new-session -d -s \(session) -x 200 -y 40 'sh \(script)' </dev/null >/dev/null 2>&1")
        #expect(started == 0)
        defer { Task { _ = try? await tmuxRun(["kill-server"]) } }
        let id = try await Self.pendingRequest(setup)
        try await expectOnScreen("two-stage needs approval: request \(id)")
        // The elapsed time ticks in place on one line.
        try await expectOnScreen("[0m02s]")
        _ = try await setup.tessera(["approve", id], as: "bob", groups: ["leads"])
        try await expectOnScreen("stage 1 approved by test-idp:bob; waiting for stage 2")
        let shownLines = try await screen()
        let lines = shownLines.split(separator: "\n").filter { $0.contains("waiting for stage") }
        #expect(lines.count == 1, "the status line was not rewritten in place: \(lines)")
        _ = try await tmuxRun(["send-keys", "-t", session, "C-c"])
        try await expectOnScreen("Cancel request \(id)? [y/N]")
        _ = try await tmuxRun(["send-keys", "-t", session, "y", "Enter"])
        try await expectOnScreen("EXIT=5")
        let final = try await screen()
        // Said by the cancel itself, or by the wait that saw the request end first.
        #expect(final.contains("request \(id) cancelled") || final.contains("request \(id) was cancelled by test-idp:alice"), "\(final)")
        let shown = try await setup.tessera(["show", id], as: "bob", groups: ["leads"])
        #expect(shown.output.contains("request \(id): cancelled"), "\(shown.output)")
        try await setup.server.stop()
    }
}

/// A Kubernetes API server stand-in on loopback, over TLS (kubectl sends exec credentials only
/// over TLS): Python's http.server with a throwaway certificate, answering `/version` and
/// writing every bearer token it receives to a file, one per line.
struct KubernetesAPIStub {
    static let script = #"""
    import http.server, ssl, sys
    port, cert, key, log = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            with open(log, "a") as out:
                out.write((self.headers.get("Authorization") or "").removeprefix("Bearer ") + "\n")
            body = b'{"major":"1","minor":"32","gitVersion":"v1.32.0"}'
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        def log_message(self, *args):
            pass
    server = http.server.HTTPServer(("127.0.0.1", port), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    print("ready", flush=True)
    server.serve_forever()
    """#

    let process: Process
    let port: Int
    let log: String

    static func start(in directory: String) async throws -> KubernetesAPIStub {
        guard let python = which("python3"), let openssl = which("openssl") else { throw ClientCommandTests.SetupError(description: "python3 and openssl") }
        let (cert, key, log) = (directory + "/stub.crt", directory + "/stub.key", directory + "/stub-tokens.log")
        let made = try await run(openssl, ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", key,
                                           "-out", cert, "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"])
        guard made.status == 0 else { throw ClientCommandTests.SetupError(description: "openssl: \(made.error)") }
        let port = try LoopbackSocket.freePort()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = ["-c", script, String(port), cert, key, log]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        let ready = try await onBlockingThread { output.fileHandleForReading.availableData }
        guard String(decoding: ready, as: UTF8.self).hasPrefix("ready") else {
            process.terminate()
            throw ClientCommandTests.SetupError(description: "the Kubernetes API stand-in did not start")
        }
        return KubernetesAPIStub(process: process, port: port, log: log)
    }

    var tokens: [String] {
        ((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
    }

    /// SIGKILL: the stand-in may inherit a signal mask that blocks SIGTERM, and would then
    /// outlive the test.
    func stop() {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
    }
}

extension ClientCommandTests {
    /// kubectl for real: its user runs `tessera token ROLE --output exec-credential`; the API
    /// server stand-in receives the role token (PyJWT verifies it), and a second kubectl run
    /// is answered from the disk cache.
    @Test func kubectlUsesTheTokenAsItsExecCredential() async throws {
        guard let kubectl = which("kubectl") else { return peerMissing("kubectl (on the machine image)") }
        let setup = try await Setup.start()
        defer { setup.server.kill() }
        let stub = try await KubernetesAPIStub.start(in: setup.home)
        defer { stub.stop() }
        let environment = try setup.environment("alice", ["sre"])
        let kubeconfig = setup.home + "/kubeconfig"
        let env = environment.sorted { $0.key < $1.key }.map { "          - {name: \($0.key), value: \"\($0.value)\"}" }.joined(separator: "\n")
        try """
        apiVersion: v1
        kind: Config
        clusters:
          - name: stub
            cluster: {server: "https://127.0.0.1:\(stub.port)", insecure-skip-tls-verify: true}
        users:
          - name: alice
            user:
              exec:
                apiVersion: client.authentication.k8s.io/v1
                command: \(setup.tessera)
                args: [token, fresh-auth, --output, exec-credential]
                interactiveMode: Never
                env:
        \(env)
        contexts:
          - name: stub
            context: {cluster: stub, user: alice}
        current-context: stub
        """.write(toFile: kubeconfig, atomically: true, encoding: .utf8)
        for _ in 0..<2 {
            let result = try await run(kubectl, ["--kubeconfig", kubeconfig, "get", "--raw", "/version"], environment: environment)
            #expect(result.status == 0, "kubectl failed: \(result.error)")
            #expect(result.output.contains("v1.32.0"))
        }
        let tokens = stub.tokens
        #expect(tokens.count >= 2, "\(tokens.map { $0.prefix(20) })")
        #expect(Set(tokens).count == 1, "the second kubectl run got another token")
        #expect(try await setup.tokensIssued() == 1, "the second kubectl run reached Tessera")
        let activation = try #require(ReviewBundle.claims(of: tokens[0])?["act_id"] as? String)
        try await ActivationFlowTests.verifyWithPyJWT(tokens[0], server: setup.server, audience: "https://db.example.com",
                                                      activation: activation, issuer: setup.url)
        try await setup.server.stop()
    }
}

/// RFC 3339 as kubectl reads `expirationTimestamp`.
enum RFC3339Date {
    static func parse(_ text: String) -> Date? { try? Date(text, strategy: .iso8601) }
}
