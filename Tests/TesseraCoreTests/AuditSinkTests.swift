#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Logging
import Synchronization
import Testing
@testable import TesseraCore
import TesseraStore
import TesseraTestLogging

@Suite("Audit sinks")
struct AuditSinkTests {
    func event(_ index: Int) -> AuditEvent {
        AuditEvent("token.issued", outcome: index.isMultiple(of: 5) ? .failure : .success, actor: AuditActor(subject: "user-\(index)"))
    }

    @Test func parsesSinkSpecifications() throws {
        #expect(try AuditSinkSpecification("file:/var/log/tessera/audit.jsonl")
            == .file(path: "/var/log/tessera/audit.jsonl", maximumBytes: AuditSinkSpecification.defaultMaximumBytes, keep: 5))
        #expect(try AuditSinkSpecification("file:/a.jsonl?max-bytes=2048&keep=2") == .file(path: "/a.jsonl", maximumBytes: 2048, keep: 2))
        #expect(try AuditSinkSpecification("syslog+tcp://siem.internal:6514") == .syslogTCP(host: "siem.internal", port: 6514))
        #expect(try AuditSinkSpecification("syslog+tcp://[::1]:514") == .syslogTCP(host: "::1", port: 514))
        for bad in ["file:relative.jsonl", "file:/a?keep=0", "file:/a?max-bytes=1", "file:/a?colour=red", "syslog+tcp://host",
                    "syslog+tcp://:514", "syslog+tcp://host:70000", "syslog://host:514", "http://x"] {
            #expect(throws: AuditSinkSpecification.Invalid.self, "\(bad)") { try AuditSinkSpecification(bad) }
        }
        #expect(try AuditSinkSpecification("file:/a").cursorName != AuditSinkSpecification("file:/b").cursorName)
    }

    @Test func rotatesTheFileBySizeAndKeepsEveryLine() async throws {
        let store = InMemoryStorage()
        let log = AuditLog(store: store, timeSource: ManualTimeSource(testNow))
        for index in 1...40 { _ = try await log.record(event(index)) }
        let path = try temporaryDirectory("tessera-sink") + "/audit.jsonl"
        let sink = JSONLinesFileSink(name: "file", path: path, maximumBytes: 2048, keep: 3)
        for batch in stride(from: 0, to: 40, by: 4) {
            try await sink.deliver(store.auditEntries(after: Int64(batch), limit: 4))
        }
        await sink.close()
        let files = [path + ".3", path + ".2", path + ".1", path]
        for file in files {
            let size = try #require(try FileManager.default.attributesOfItem(atPath: file)[.size] as? Int)
            #expect(size <= 2048, "\(file) is \(size) bytes")
        }
        #expect(!FileManager.default.fileExists(atPath: path + ".4"), "more files kept than asked")
        let kept = try files.map { try String(contentsOfFile: $0, encoding: .utf8) }.joined()
        let sequences = kept.split(separator: "\n").compactMap { line -> Int? in
            let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
            return (object?["entry"] as? [String: Any])?["sequence"] as? Int
        }
        // The newest files hold a contiguous run ending at the last entry, oldest first.
        #expect(sequences.last == 40)
        #expect(sequences == Array((41 - sequences.count)...40), "\(sequences)")
    }

    @Test func framesEntriesAsRFC5424WithOctetCounting() async throws {
        let store = InMemoryStorage()
        let sealed = try await AuditLog(store: store, timeSource: ManualTimeSource(testNow)).record(event(5))
        let frame = String(decoding: SyslogTCPSink.frame(sealed), as: UTF8.self)
        let space = try #require(frame.firstIndex(of: " "))
        let message = frame[frame.index(after: space)...]
        #expect(Int(frame[..<space]) == message.utf8.count)
        #expect(message.hasPrefix("<108>1 2027-01-15T08:00:00.000Z "), "\(message)")  // facility 13, warning: a failure
        #expect(message.contains(" tessera \(getpid()) token.issued [tessera@32473 sequence=\"1\" hash=\"\(sealed.hash)\"] {\"entry\":"))
    }

    /// A syslog listener that is down receives everything once it is up, and again after a
    /// second outage in the middle of the stream.
    @Test func syslogListenerThatWasDownReceivesEverything() async throws {
        let store = InMemoryStorage()
        let log = AuditLog(store: store, timeSource: ManualTimeSource(testNow))
        for index in 1...30 { _ = try await log.record(event(index)) }
        let port = try TestSyslogListener.freePort()
        var logger = Logger.forCurrentTest()
        logger.logLevel = .critical
        let forwarder = AuditForwarder(sink: SyslogTCPSink(name: "syslog-test", host: "127.0.0.1", port: port), store: store,
                                       cursorDirectory: try temporaryDirectory("tessera-cursor"), pollInterval: .milliseconds(20),
                                       maximumBackoff: .milliseconds(100), logger: logger)
        let forwarding = Task { await forwarder.run() }
        defer { forwarding.cancel() }
        try await Task.sleep(for: .milliseconds(300))  // several refused connections

        let first = try TestSyslogListener(port: port)
        try await first.waitFor(1...30)
        for index in 31...40 { _ = try await log.record(event(index)) }
        try await first.waitFor(31...40)
        first.stop()

        for index in 41...60 { _ = try await log.record(event(index)) }
        try await Task.sleep(for: .milliseconds(300))
        let second = try TestSyslogListener(port: port)
        try await second.waitFor(41...60)
        second.stop()
        // The cursor is saved just after the listener has the bytes.
        let deadline = ContinuousClock.now + .seconds(10)
        while forwarder.readCursor() < 60, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
        #expect(forwarder.readCursor() == 60)
    }
}

/// A blocking TCP syslog receiver on loopback that parses octet-counted frames.
final class TestSyslogListener: Sendable {
    private let descriptor: Int32
    private let received = Mutex<Set<Int>>([])
    private let stopped = Atomic<Bool>(false)
    private let clients = Mutex<[Int32]>([])

    static func freePort() throws -> Int {
        let probe = try TestSyslogListener(port: 0)
        defer { probe.stop() }
        var address = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(probe.descriptor, $0, &length) }
        }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    init(port: Int) throws {
        descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var yes: Int32 = 1
        setsockopt(descriptor, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(port).bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(descriptor, 8) == 0 else { throw StoreError("cannot listen on \(port): \(errno)") }
        guard port != 0 else { return }
        Thread.detachNewThread { [self] in acceptLoop() }
    }

    /// Goes down as a crashed listener does: its connections are closed too.
    func stop() {
        stopped.store(true, ordering: .relaxed)
        shutdown(descriptor, Int32(SHUT_RDWR))
        close(descriptor)
        clients.withLock { $0.forEach { shutdown($0, Int32(SHUT_RDWR)) } }
    }

    func waitFor(_ sequences: ClosedRange<Int>, timeout: Duration = .seconds(15)) async throws {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if received.withLock({ Set(sequences).isSubset(of: $0) }) { return }
            try await Task.sleep(for: .milliseconds(20))
        }
        let missing = received.withLock { Set(sequences).subtracting($0).sorted() }
        Issue.record("the syslog listener never received \(missing)")
    }

    private func acceptLoop() {
        while !stopped.load(ordering: .relaxed) {
            let client = accept(descriptor, nil, nil)
            guard client >= 0 else { return }
            clients.withLock { $0.append(client) }
            Thread.detachNewThread { [self] in read(client) }
        }
    }

    private func read(_ client: Int32) {
        defer { close(client) }
        var buffer: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while !stopped.load(ordering: .relaxed) {
            let count = recv(client, &chunk, chunk.count, 0)
            guard count > 0 else { return }
            buffer += chunk[..<count]
            while let space = buffer.firstIndex(of: UInt8(ascii: " ")), let length = Int(String(decoding: buffer[..<space], as: UTF8.self)),
                  buffer.count > space + length {
                let message = String(decoding: buffer[(space + 1)...(space + length)], as: UTF8.self)
                buffer.removeFirst(space + 1 + length)
                if let range = message.range(of: #"sequence=""#),
                   let sequence = Int(message[range.upperBound...].prefix { $0.isNumber }) {
                    received.withLock { _ = $0.insert(sequence) }
                }
            }
        }
    }
}
