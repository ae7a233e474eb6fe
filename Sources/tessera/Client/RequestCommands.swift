import ArgumentParser
import Foundation
import TesseraPolicy

/// One call to the requests and activations API as the signed-in person, answered in words:
/// a refusal exits with the server's reason (1, or 69 when it cannot be reached, 77 when the
/// identity token is refused).
func callAsPerson(_ options: ClientOptions, _ method: String, _ path: String, form: [(String, String)]? = nil) async -> [String: Any] {
    let settings = options.settings()
    func attempt() async throws(ClientFailure) -> [String: Any] {
        let subject = try await SubjectToken.read(settings)
        let api = TesseraAPIClient.make(issuer: settings.issuer)
        let answer: TesseraAPIClient.Answer
        do throws(ClientFailure) {
            answer = try await api.call(method, path, bearer: subject, form: form)
        } catch {
            await api.shutdown()
            throw error
        }
        await api.shutdown()
        switch answer.status {
        case 200: return answer.body
        case 401: throw ClientFailure(.notSignedIn, "the server refused your identity token: \(answer.problem)")
        default: throw ClientFailure(answer.status >= 500 ? .unavailable : .failure, answer.problem)
        }
    }
    do {
        return try await attempt()
    } catch {
        exitWith(error.status, error.message)
    }
}

func printJSON(_ object: Any) {
    let data = (try? JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys])) ?? Data("{}".utf8)
    print(String(decoding: data, as: UTF8.self))
}

/// A JSON value as a table cell: missing or null is empty.
func cell(_ value: Any?) -> String {
    guard let value, !(value is NSNull) else { return "" }
    return "\(value)"
}

/// Rows as aligned columns, the header first.
func printTable(_ header: [String], _ rows: [[String]]) {
    let widths = header.indices.map { column in ([header] + rows).map { $0[column].count }.max() ?? 0 }
    for row in [header] + rows {
        print(row.enumerated().map { index, cell in
            index == row.count - 1 ? cell : cell.padding(toLength: widths[index], withPad: " ", startingAt: 0)
        }.joined(separator: "  "))
    }
}

/// `tessera requests`: mine, those waiting for me, or all I may see.
struct RequestsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "requests", abstract: "List access requests: yours (--mine), those you can approve (--to-approve, the default), or --all.",
        discussion: "Example: tessera requests --to-approve --state pending")

    @Flag(help: "Your own requests.") var mine = false
    @Flag(name: .customLong("to-approve"), help: "Requests waiting for you (the default).") var toApprove = false
    @Flag(help: "Every request you may see.") var all = false
    @Option(help: "pending, approved, denied, cancelled or expired.") var state: String?
    @Flag(help: "Print the API's JSON.") var json = false
    @OptionGroup var client: ClientOptions

    func run() async throws {
        var query: [String] = []
        if mine { query.append("mine=true") } else if !all { query.append("to_approve=true") }
        if let state { query.append("state=\(state)") }
        let body = await callAsPerson(client, "GET", "/requests" + (query.isEmpty ? "" : "?" + query.joined(separator: "&")))
        let items = body["items"] as? [[String: Any]] ?? []
        if json { return printJSON(body) }
        guard !items.isEmpty else { return print("no requests") }
        printTable(["ID", "STATE", "ROLE", "REQUESTER", "EXPIRES", "REASON"], items.map { item in
            [item["id"], item["state"], item["role"], item["requester"], item["expires_at"], item["justification"]].map(cell)
        })
    }
}

/// `tessera show ID`: a request in full.
struct ShowCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show", abstract: "Show a request: requester, role, reason, ticket, stages and approvals.",
        discussion: "Examples:\n  tessera show req_...\n  tessera show req_... --json")

    @Argument(help: "The request id (req_...).") var id: String
    @Flag(help: "Print the API's JSON.") var json = false
    @OptionGroup var client: ClientOptions

    func run() async throws {
        let body = await callAsPerson(client, "GET", "/requests/\(id)")
        if json { return printJSON(body) }
        print("request \(body["id"] ?? id): \(body["state"] ?? "?")")
        for (label, key) in [("requester", "requester"), ("role", "role"), ("reason", "justification"), ("ticket", "ticket"),
                             ("client", "client_id"), ("created", "created_at"), ("expires", "expires_at"), ("activation", "activation_id"),
                             ("closed by", "closed_by"), ("comment", "comment")] {
            if let value = body[key] { print("  \(label.padding(toLength: 11, withPad: " ", startingAt: 0)) \(value)") }
        }
        for stage in body["stages"] as? [[String: Any]] ?? [] {
            print("  " + ApprovalWaiter.describe(stage: stage))
        }
        for approval in body["approvals"] as? [[String: Any]] ?? [] {
            let comment = (approval["comment"] as? String).map { ": \($0)" } ?? ""
            print("  approved at stage \(approval["stage"] ?? "?") by \(approval["approver"] ?? "?") at \(approval["at"] ?? "?")\(comment)")
        }
    }
}

/// approve, deny, cancel and review: one decision on a request, with a comment.
protocol RequestDecisionCommand: AsyncParsableCommand {
    static var action: String { get }
    var id: String { get }
    var comment: String? { get }
    var client: ClientOptions { get }
}

extension RequestDecisionCommand {
    func run() async throws {
        let body = await callAsPerson(client, "POST", "/requests/\(id)/\(Self.action)", form: comment.map { [("comment", $0)] } ?? [])
        let state = body["state"] as? String ?? "?"
        let activation = (body["activation_id"] as? String).map { ", activation \($0)" } ?? ""
        print("\(body["id"] ?? id): \(state)\(activation)")
    }
}

struct ApproveCommand: RequestDecisionCommand {
    static let configuration = CommandConfiguration(commandName: "approve", abstract: "Approve a request (your stage of it).",
                                                    discussion: "Example: tessera approve req_... --comment \"ok for INC-4211\"")
    static let action = "approve"
    @Argument(help: "The request id.") var id: String
    @Option(help: "A comment for the requester and the audit log.") var comment: String?
    @OptionGroup var client: ClientOptions
}

struct DenyCommand: RequestDecisionCommand {
    static let configuration = CommandConfiguration(commandName: "deny", abstract: "Deny a request, which ends it.",
                                                    discussion: "Example: tessera deny req_... --comment \"not during the freeze\"")
    static let action = "deny"
    @Argument(help: "The request id.") var id: String
    @Option(help: "Why (the requester reads it).") var comment: String?
    @OptionGroup var client: ClientOptions

    func validate() throws {
        if comment == nil { throw ValidationError("say why with --comment: the requester reads it") }
    }
}

struct CancelCommand: RequestDecisionCommand {
    static let configuration = CommandConfiguration(commandName: "cancel", abstract: "Withdraw your pending request.",
                                                    discussion: "Example: tessera cancel req_... --comment \"fixed without it\"")
    static let action = "cancel"
    @Argument(help: "The request id.") var id: String
    @Option(help: "A comment.") var comment: String?
    @OptionGroup var client: ClientOptions
}

struct ReviewCommand: RequestDecisionCommand {
    static let configuration = CommandConfiguration(commandName: "review", abstract: "Acknowledge a break-glass use, saying what was checked.",
                                                    discussion: """
                                                    ID is the break-glass activation's id (act_...), as `tessera status --reviews` lists them.

                                                    Example: tessera review act_... --comment "checked the outage ticket INC-4211"
                                                    """)
    static let action = "review"
    @Argument(help: "The activation id.") var id: String
    @Option(help: "What was checked.") var comment: String?
    @OptionGroup var client: ClientOptions

    func validate() throws {
        if comment == nil { throw ValidationError("a review needs --comment saying what was checked") }
    }
}
