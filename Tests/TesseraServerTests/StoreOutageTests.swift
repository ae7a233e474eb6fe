import Foundation
import Testing
import TesseraCrypto

/// The database goes away under a running `tessera serve --store postgres://...`: a TCP relay
/// in front of PostgreSQL stops relaying (a stopped or partitioned database: connections stay
/// open and nothing answers). Token requests are answered `503 temporarily_unavailable` within
/// the store timeout instead of hanging, `/readyz` says the store is failing, the outage is
/// logged once, and when the relay resumes the server recovers by itself. The same for the
/// embedded SQLite store whose files stop taking writes.
@Suite("store outage", .serialized)
struct StoreOutageTests {
    /// Relays 127.0.0.1:<printed port> to PostgreSQL; the line `hold` on standard input holds
    /// every byte, `flow` lets them go again, and the end of standard input ends the relay.
    /// (Not signals: a child of the test process may inherit a mask that blocks them, so a
    /// relay left to SIGTERM would outlive the test, and one that kept reading its closed input
    /// would spin a core for the rest of the run.)
    static let relay = #"""
    import asyncio, os, sys
    upstream_port = int(sys.argv[1])
    flowing = asyncio.Event()
    flowing.set()
    async def pump(reader, writer):
        try:
            while True:
                data = await reader.read(65536)
                if not data:
                    break
                await flowing.wait()
                writer.write(data)
                await writer.drain()
        except Exception:
            pass
        finally:
            writer.close()
    async def handle(client_reader, client_writer):
        await flowing.wait()
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", upstream_port)
        except Exception:
            client_writer.close()
            return
        asyncio.ensure_future(pump(client_reader, up_writer))
        asyncio.ensure_future(pump(up_reader, client_writer))
    async def main():
        loop = asyncio.get_running_loop()
        def command():
            raw = sys.stdin.readline()
            if not raw:
                os._exit(0)
            line = raw.strip()
            if line == "hold":
                flowing.clear()
            elif line == "flow":
                flowing.set()
            print("OK", line, flush=True)
        loop.add_reader(sys.stdin.fileno(), command)
        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        print("PORT", server.sockets[0].getsockname()[1], flush=True)
        async with server:
            await server.serve_forever()
    asyncio.run(main())
    """#

    @Test func tokenRequestsFailFastWhileTheDatabaseIsAwayAndRecoverAfter() async throws {
        let tessera = try ActivationFlowTests.tesseraExecutable()
        guard let serverURL = ReplicaTests.postgresURL, let psql = which("psql"), let python = which("python3") else {
            return peerMissing("PostgreSQL (TESSERA_TEST_POSTGRES and psql; .ci/run starts it) and python3")
        }
        let database = "tessera_outage_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased().prefix(12)
        let created = try await run(psql, [serverURL, "-v", "ON_ERROR_STOP=1", "-q", "-c", "CREATE DATABASE \(database)"])
        try #require(created.status == 0, "\(created.error)")
        defer { Task { _ = try? await run(psql, [serverURL, "-q", "-c", "DROP DATABASE IF EXISTS \(database) WITH (FORCE)"]) } }

        let bundle = try ReviewBundle()
        let script = bundle.root + "/relay.py"
        try Self.relay.write(toFile: script, atomically: true, encoding: .utf8)
        let upstream = URLComponents(string: serverURL)?.port ?? 5432
        let relay = Process()
        relay.executableURL = URL(fileURLWithPath: python)
        relay.arguments = [script, String(upstream)]
        let relayOutput = Pipe()
        let relayInput = Pipe()
        relay.standardOutput = relayOutput
        relay.standardInput = relayInput
        let relayErrors = Pipe()
        relay.standardError = relayErrors
        try relay.run()
        defer {
            // The end of its input ends the relay (a signal may be blocked in it).
            try? relayInput.fileHandleForWriting.close()
            if relay.isRunning { kill(relay.processIdentifier, SIGKILL) }
        }
        /// The relay's next line of output (reads may come in pieces on a loaded machine).
        func nextLine() async throws -> String {
            var text = ""
            while !text.contains("\n") {
                let piece = try await onBlockingThread { relayOutput.fileHandleForReading.availableData }
                if piece.isEmpty { break }  // the relay ended
                text += String(decoding: piece, as: UTF8.self)
            }
            return text
        }
        let started = try await nextLine()
        guard let relayPort = started.split(separator: " ").last.flatMap({ Int($0.trimmingCharacters(in: .whitespacesAndNewlines)) }) else {
            relay.terminate()
            let errors = try await onBlockingThread { relayErrors.fileHandleForReading.readDataToEndOfFile() }
            Issue.record("the relay did not start: \(started) \(String(decoding: errors, as: UTF8.self))")
            return
        }
        var components = URLComponents(string: ReplicaTests.replacingDatabase(in: serverURL, with: String(database)))!
        components.port = relayPort
        let storeURL = components.string!

        let kekFile = bundle.root + "/kek"
        #expect(FileManager.default.createFile(atPath: kekFile, contents: Data(try KeyEncryptionKey.generate().encoded.utf8),
                                               attributes: [.posixPermissions: 0o600]))
        let server = try await ReviewServer.start(tessera, bundle, arguments: bundle.folders + [
            "--store", storeURL, "--key-encryption-key-file", kekFile, "--store-timeout", "1s"])
        defer { server.kill() }
        let form = ["grant_type": "client_credentials"]
        let issued = try await server.send(form, authorization: bundle.resourceServerAuthorization)
        #expect(issued.status == 200)
        let token = try #require(issued.body["access_token"] as? String)
        #expect(try await server.json("GET", "/readyz", authorization: nil).status == 200)

        /// Tells the relay, and waits until it has taken the command.
        func relayCommand(_ command: String) async throws {
            relayInput.fileHandleForWriting.write(Data((command + "\n").utf8))
            #expect(try await nextLine().contains("OK \(command)"))
        }

        // An admin token, minted while the store answers.
        let minted = try await run(tessera, ["admin", "token", "--subject", "ops"] + bundle.folders + [
            "--store", storeURL, "--key-encryption-key-file", kekFile])
        #expect(minted.status == 0, "\(minted.error)")
        let admin = "Bearer " + minted.output.trimmingCharacters(in: .whitespacesAndNewlines)

        // The database stops answering.
        try await relayCommand("hold")
        for _ in 0..<3 {
            try await Self.expectUnavailable("a token request", within: 5) {
                try await server.send(form, authorization: bundle.resourceServerAuthorization)
            }
        }
        // Every other store operation of a request is bounded the same way: introspection,
        // revocation, the request and activation API, the admin API.
        let person = "Bearer " + (try bundle.identityToken(subject: "alice", groups: ["sre"]))
        let others: [(String, () async throws -> (status: Int, body: [String: Any]))] = [
            ("introspection", { try await server.send(["token": token], path: "/introspect", authorization: bundle.resourceServerAuthorization) }),
            ("revocation", { try await server.send(["token": token], path: "/revoke", authorization: bundle.resourceServerAuthorization) }),
            ("GET /requests", { try await server.json("GET", "/requests", authorization: person) }),
            ("GET /activations", { try await server.json("GET", "/activations", authorization: person) }),
            ("GET /admin/keys", { try await server.json("GET", "/admin/keys", authorization: admin) }),
        ]
        for (name, call) in others {
            try await Self.expectUnavailable(name, within: 5, call)
        }
        let ready = try await server.json("GET", "/readyz", authorization: nil)
        #expect(ready.status == 503)
        #expect((ready.body["failing"] as? [String: Any])?["store"] != nil, "\(ready.body)")

        // It answers again: the server recovers by itself.
        try await relayCommand("flow")
        var recovered = 0
        for _ in 0..<100 {
            recovered = try await server.send(form, authorization: bundle.resourceServerAuthorization).status
            if recovered == 200 { break }
            try await Task.sleep(for: .milliseconds(200))
        }
        #expect(recovered == 200, "\(server.log())")
        #expect(try await server.json("GET", "/readyz", authorization: nil).status == 200)
        let log = server.log()
        #expect(log.components(separatedBy: "the audit log cannot be written").count - 1 == 1, "\(log)")
        #expect(log.components(separatedBy: "the audit log is written again").count - 1 == 1, "\(log)")
        try await server.stop()
    }

    /// `call` is answered `503 temporarily_unavailable`, and in less than `seconds`.
    static func expectUnavailable(_ name: String, within seconds: TimeInterval,
                                  _ call: () async throws -> (status: Int, body: [String: Any])) async throws {
        let started = Date()
        let answer = try await call()
        #expect(answer.status == 503, "\(name): \(answer.body)")
        #expect(answer.body["error"] as? String == "temporarily_unavailable", "\(name): \(answer.body)")
        #expect(Date().timeIntervalSince(started) < seconds, "\(name) waited \(Date().timeIntervalSince(started)) s")
    }

    /// Marks files immutable (`chattr +i`), which even root cannot write: the SQLite data folder
    /// as a disk gone read-only leaves it. Needs root (or sudo) and a file system with the flag.
    static func setImmutable(_ immutable: Bool, _ paths: [String]) async throws -> ProcessResult {
        let arguments = [immutable ? "+i" : "-i"] + paths
        if getuid() == 0, let chattr = which("chattr") { return try await run(chattr, arguments) }
        return try await run("/usr/bin/sudo", ["-n", "chattr"] + arguments)
    }

    /// The same shape for the embedded SQLite store: its files stop taking writes under a
    /// running server (the database, its write-ahead log and the data folder, immutable), then
    /// take them again. Tokens are refused fast, `/readyz` names the store (reads still work,
    /// so the probe tries a write), recovery needs no restart, and the chain still verifies.
    @Test func aSQLiteDataFolderThatStopsTakingWritesFailsFastAndRecovers() async throws {
        let tessera = try ActivationFlowTests.tesseraExecutable()
        let bundle = try ReviewBundle()
        let server = try await ReviewServer.start(tessera, bundle, arguments: bundle.folders + ["--store-timeout", "1s"])
        defer { server.kill() }
        let form = ["grant_type": "client_credentials"]
        #expect(try await server.send(form, authorization: bundle.resourceServerAuthorization).status == 200)
        let data = bundle.root + "/data"
        let files = [data + "/tessera.sqlite", data + "/tessera.sqlite-wal", data]
        let frozen = try await Self.setImmutable(true, files)
        guard frozen.status == 0 else {
            // Not a missing peer but a missing capability; still not a pass.
            Issue.record("cannot make the data folder immutable (chattr +i needs root or sudo): \(frozen.error)")
            return
        }
        var thawed = false
        defer { if !thawed { Task { _ = try? await Self.setImmutable(false, files) } } }

        for _ in 0..<3 {
            try await Self.expectUnavailable("a token request", within: 3) {
                try await server.send(form, authorization: bundle.resourceServerAuthorization)
            }
        }
        let ready = try await server.json("GET", "/readyz", authorization: nil)
        #expect(ready.status == 503, "reads still work, but the store takes no writes: \(ready.body)")
        #expect(((ready.body["failing"] as? [String: Any])?["store"] as? String)?.contains("audit log cannot be written") == true, "\(ready.body)")

        #expect(try await Self.setImmutable(false, files).status == 0)
        thawed = true
        // The probe's write lands, so the server is ready again without a request first.
        var readyAgain = 0
        for _ in 0..<50 {
            readyAgain = try await server.json("GET", "/readyz", authorization: nil).status
            if readyAgain == 200 { break }
            try await Task.sleep(for: .milliseconds(200))
        }
        #expect(readyAgain == 200, "\(server.log())")
        #expect(try await server.send(form, authorization: bundle.resourceServerAuthorization).status == 200)
        let log = server.log()
        #expect(log.components(separatedBy: "the audit log cannot be written").count - 1 == 1, "\(log)")
        #expect(log.components(separatedBy: "the audit log is written again").count - 1 == 1, "\(log)")
        try await server.stop()
        let verified = try await run(tessera, ["audit", "verify", "--data", data])
        #expect(verified.status == 0, "\(verified.output) \(verified.error)")
        let exported = try await bundle.auditExport(tessera)
        #expect(exported.filter { $0.contains("\"audit.write_restored\"") }.count == 1)
    }
}
