import Foundation
import Synchronization

/// Waits for a request's decision by long polling (`GET /requests/{id}?wait=30s`, which
/// answers the moment the request changes), saying on standard error what it waits for: a
/// status line rewritten in place on a terminal (elapsed time, stage, approvals, expiry), one
/// plain line per change otherwise. Ctrl-C asks whether to cancel the request (on a terminal)
/// or leaves it pending, and says how to resume.
final class ApprovalWaiter: @unchecked Sendable {
    let api: TesseraAPIClient
    let role: String
    let requestID: String
    let settings: ClientSettings
    private let terminal = isatty(STDERR_FILENO) == 1
    private let started = Date()
    // Written by the polling task and read by the ticking one; guarded by `lock`.
    private let lock = NSLock()
    private var status = ""
    /// Set while Ctrl-C's question is on the screen: the status line must not overwrite it.
    private var prompting = false
    private var interrupt: (any DispatchSourceSignal)?

    init(api: TesseraAPIClient, role: String, requestID: String, settings: ClientSettings) {
        self.api = api
        self.role = role
        self.requestID = requestID
        self.settings = settings
    }

    /// What the `approval_required` answer says: the request and who has been asked.
    func announce(_ body: [String: Any]) {
        var lines = ["\(role) needs approval: request \(requestID)"]
        for stage in body["stages"] as? [[String: Any]] ?? [] {
            lines.append("  " + Self.describe(stage: stage))
        }
        if let expires = body["expires_at"] as? String { lines.append("  the request expires at \(expires)") }
        say(lines.joined(separator: "\n"))
    }

    /// Returns once the request is approved (with the subject token to collect it, re-read if
    /// it expired meanwhile); throws when it is denied, cancelled or expired.
    func waitForDecision(subject: String) async throws(ClientFailure) -> String {
        var subject = subject
        installInterruptHandler(subject: subject)
        defer { interrupt?.cancel() }
        let ticker = terminal ? Task { [weak self] in
            while !Task.isCancelled {
                self?.redraw()
                try? await Task.sleep(for: .seconds(1))
            }
        } : nil
        defer { ticker?.cancel() }
        var lastSeen = ""
        var refreshedSubject = false
        while true {
            let answer = try await api.call("GET", "/requests/\(requestID)?wait=30s", bearer: subject)
            if answer.status == 401, !refreshedSubject {
                // An identity token can expire during a long wait: get a fresh one once.
                subject = try await SubjectToken.read(settings)
                refreshedSubject = true
                continue
            }
            guard answer.status == 200, let state = answer.body["state"] as? String else {
                throw ClientFailure(answer.status >= 500 ? .unavailable : .failure, "cannot follow request \(requestID): \(answer.problem)")
            }
            refreshedSubject = false
            let line = Self.progress(answer.body)
            if line != lastSeen {
                update(line)
                lastSeen = line
            }
            switch state {
            case "pending": continue
            case "approved":
                finishLine()
                return subject
            default:
                finishLine()
                let by = (answer.body["closed_by"] as? String).map { " by \($0)" } ?? ""
                let comment = (answer.body["comment"] as? String).map { ": \($0)" } ?? ""
                throw ClientFailure(.requestClosed, "request \(requestID) was \(state)\(by)\(comment)")
            }
        }
    }

    /// `stage 1 of 2: approved by corp:bob; waiting for stage 2 (security)`.
    static func progress(_ body: [String: Any]) -> String {
        let stages = body["stages"] as? [[String: Any]] ?? []
        var parts: [String] = []
        for stage in stages {
            let approvedBy = stage["approved_by"] as? [String] ?? []
            if stage["state"] as? String == "waiting" {
                parts.append("waiting for " + describe(stage: stage))
            } else if !approvedBy.isEmpty {
                parts.append("stage \(stage["stage"] as? Int ?? 0) approved by \(approvedBy.joined(separator: ", "))")
            }
        }
        let state = body["state"] as? String ?? "?"
        return state == "pending" ? parts.joined(separator: "; ") : "\(state)" + (parts.isEmpty ? "" : " (" + parts.joined(separator: "; ") + ")")
    }

    /// `stage 2 of 2: 1 of [groups security] (waiting)`.
    static func describe(stage: [String: Any]) -> String {
        let approvers = stage["approvers"] as? [String: Any] ?? [:]
        let names = (approvers["groups"] as? [String] ?? []).map { "group \($0)" } + (approvers["subjects"] as? [String] ?? [])
        let count = stage["count"] as? Int ?? 1
        return "stage \(stage["stage"] as? Int ?? 0): \(count) of \(names.joined(separator: ", ")) (\(stage["state"] as? String ?? "?"))"
    }

    private func update(_ line: String) {
        lock.withLock { status = line }
        if terminal { redraw() } else { say(line) }
    }

    private func redraw() {
        let elapsed = Int(Date().timeIntervalSince(started))
        let (line, paused) = lock.withLock { (status, prompting) }
        guard !paused else { return }
        let text = "\r\u{1B}[2K[\(elapsed / 60)m\(String(format: "%02d", elapsed % 60))s] \(line)"
        FileHandle.standardError.write(Data(text.utf8))
    }

    private func finishLine() {
        if terminal { FileHandle.standardError.write(Data("\n".utf8)) }
    }

    private func say(_ text: String) {
        FileHandle.standardError.write(Data((text + "\n").utf8))
    }

    /// Ctrl-C: on a terminal, offer to cancel the request; either way say how to resume.
    private func installInterruptHandler(subject: String) {
        signal(SIGINT, SIG_IGN)
        let source = DispatchSource.makeSignalSource(signal: SIGINT, queue: .global())
        let (api, requestID, role) = (api, requestID, role)
        source.setEventHandler { [terminal, weak self] in
            self?.lock.withLock { self?.prompting = true }
            let resume = "request \(requestID) is still pending; resume with `tessera token \(role) --request \(requestID)`"
            if terminal, isatty(STDIN_FILENO) == 1 {
                FileHandle.standardError.write(Data("\nCancel request \(requestID)? [y/N] ".utf8))
                if let answer = readLine(), ["y", "yes"].contains(answer.lowercased()) {
                    let done = DispatchSemaphore(value: 0)
                    let cancelled = Atomic<Bool>(false)
                    Task {
                        let answer = try? await api.call("POST", "/requests/\(requestID)/cancel", bearer: subject, form: [])
                        cancelled.store(answer?.status == 200, ordering: .relaxed)
                        let text = answer?.status == 200 ? "request \(requestID) cancelled\n" : "could not cancel: \(answer?.problem ?? "no answer")\n"
                        FileHandle.standardError.write(Data(text.utf8))
                        done.signal()
                    }
                    done.wait()
                    if cancelled.load(ordering: .relaxed) { exit(ClientExit.requestClosed.rawValue) }
                }
            }
            FileHandle.standardError.write(Data("\n\(resume)\n".utf8))
            exit(ClientExit.pending.rawValue)
        }
        source.resume()
        interrupt = source
    }
}
