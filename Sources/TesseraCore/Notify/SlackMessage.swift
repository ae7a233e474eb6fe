import Foundation
import TesseraJWT
import TesseraPolicy

/// The Slack incoming-webhook message for one event: `{"text": fallback, "blocks": [...]}`.
///
/// A plain incoming webhook can carry no working buttons and cannot edit its message later, so
/// the message spells out the commands to run (`tessera approve <id>`) and links the request.
/// Everything that came from a person (reason, ticket, comment, names) is escaped (`&`, `<`,
/// `>`: otherwise `<!channel>` in a reason would page a whole channel) and cut to a budget per
/// piece, so no section passes Slack's 3,000 characters and no cut lands inside an escape.
struct SlackMessage {
    static let maximumBlocks = 50
    static let maximumSectionText = 3000
    static let maximumFieldText = 2000
    static let maximumFields = 10
    /// Budgets (UTF-16 code units, which Slack's limits never undercount) for each piece.
    static let headlineBudget = 400
    static let fieldBudget = 300
    static let longTextBudget = 2800
    static let linkBudget = 600

    let event: NotificationEvent

    typealias Key = NotificationEvent.Key

    /// The JSON document to POST.
    func body() -> String {
        var writer = JSONWriter(capacity: 1024)
        writer.value(.object(["text": .string(fallback), "blocks": .array(blocks())]))
        return String(decoding: writer.bytes, as: UTF8.self)
    }

    /// The notification text shown where blocks are not (phone banners, screen readers).
    var fallback: String {
        var text = Self.title(event.kind)
        if let role = value(Key.role) ?? event.role { text += ": " + role }
        if let requester = value(Key.requester) { text += " for " + requester }
        return SlackText.escaped(SlackText.singleLine(text), budget: Self.headlineBudget)
    }

    func blocks() -> [JSONValue] {
        var blocks: [JSONValue] = [Self.section(headline())]
        let fields = fieldTexts()
        if !fields.isEmpty {
            blocks.append(.object(["type": "section", "fields": .array(fields.prefix(Self.maximumFields).map(Self.mrkdwn))]))
        }
        if let reason = value(Key.justification) {
            blocks.append(Self.section("*Reason*\n" + SlackText.escaped(reason, budget: Self.longTextBudget)))
        }
        if let comment = value(Key.comment) {
            blocks.append(Self.section("*Comment*\n" + SlackText.escaped(comment, budget: Self.longTextBudget)))
        }
        if let actions = actions() { blocks.append(Self.section(actions)) }
        blocks.append(.object(["type": "context", "elements": .array([Self.mrkdwn("Tessera · `\(event.kind.rawValue)`")])]))
        return Array(blocks.prefix(Self.maximumBlocks))
    }

    private func headline() -> String {
        let breakGlass = event.breakGlass || event.data[Key.breakGlass]?.boolValue == true
        var text = (breakGlass && event.kind != .breakGlassUsed ? ":rotating_light: *Break-glass* · " : "") + "*\(Self.title(event.kind))*"
        var about: [String] = []
        if let role = value(Key.role) ?? event.role { about.append("*" + SlackText.escaped(SlackText.singleLine(role), budget: 100) + "*") }
        if let requester = value(Key.requester) { about.append("for " + SlackText.escaped(SlackText.singleLine(requester), budget: 200)) }
        if !about.isEmpty { text += "\n" + about.joined(separator: " ") }
        return text
    }

    private func fieldTexts() -> [String] {
        var fields: [(String, String)] = []
        func add(_ label: String, _ text: String?) {
            if let text { fields.append((label, text)) }
        }
        add("Requester", value(Key.requester).map(plain))
        add("Role", (value(Key.role) ?? event.role).map(plain))
        add("Ticket", value(Key.ticket).map(plain))
        if let stage = value(Key.stage) {
            add("Stage", plain(stage + (value(Key.stages).map { " of " + $0 } ?? "")))
        }
        add("Approvers", value(Key.approvers).map(plain))
        add("Expires", date(Key.expiresAt))
        add("Ends", date(Key.endsAt))
        add("By", value(Key.actor).map(plain))
        add("Request", value(Key.requestID).map(code))
        add("Activation", value(Key.activationID).map(code))
        return fields.map { "*\($0.0)*\n\($0.1)" }
    }

    /// What to do about it: the command(s) to copy and a link to the request.
    private func actions() -> String? {
        var lines: [String] = []
        let pending = event.kind == .requestCreated || event.kind == .requestEscalated
        if let command = value(Key.command) {
            lines.append("*Run* " + code(command))
        } else if pending, let id = value(Key.requestID) {
            lines.append("*To approve* " + code("tessera approve " + id))
        }
        if pending, let id = value(Key.requestID) {
            lines.append("*To deny* " + code("tessera deny " + id + " --comment \"...\""))
        }
        if let uri = value(Key.requestURI) {
            lines.append(link(uri, label: pending ? "Open the request" : "Details"))
        }
        return lines.isEmpty ? nil : lines.joined(separator: "\n")
    }

    // MARK: pieces

    private func plain(_ text: String) -> String {
        SlackText.escaped(SlackText.singleLine(text), budget: Self.fieldBudget)
    }

    /// Inline code. Backticks inside would end it early, so they become quotes.
    private func code(_ text: String) -> String {
        "`" + SlackText.escaped(SlackText.singleLine(text).replacingOccurrences(of: "`", with: "'"), budget: Self.fieldBudget) + "`"
    }

    /// `<url|label>` for an http(s) URL; anything else is shown as text, never as a link.
    private func link(_ uri: String, label: String) -> String {
        guard let components = URLComponents(string: uri), ["http", "https"].contains(components.scheme?.lowercased() ?? ""),
              uri.utf16.count <= Self.linkBudget
        else { return plain(uri) }
        // `|` and `>` would end the link's URL early; `<` and `&` are escaped as everywhere.
        let target = SlackText.escaped(uri.replacingOccurrences(of: "|", with: "%7C"), budget: Self.linkBudget * 5)
        return "<\(target)|\(label)>"
    }

    /// A time shown in each reader's own zone (`<!date^...>`), with the UTC text as fallback.
    private func date(_ key: String) -> String? {
        let time: Date?
        switch event.data[key] {
        case .number(let seconds)?: time = Date(timeIntervalSince1970: seconds)
        case .string(let text)?:
            time = (try? Date(text, strategy: Date.ISO8601FormatStyle(includingFractionalSeconds: true)))
                ?? (try? Date(text, strategy: Date.ISO8601FormatStyle()))
            if time == nil { return plain(text) }
        default: return nil
        }
        guard let time, time.timeIntervalSince1970.isFinite, abs(time.timeIntervalSince1970) < 1e11 else { return nil }
        let utc = time.formatted(Date.ISO8601FormatStyle())
        return "<!date^\(Int64(time.timeIntervalSince1970.rounded(.down)))^{date_short_pretty} {time}|\(utc)>"
    }

    /// A data member as text: strings as they are, whole numbers without a fraction, a list
    /// joined with commas; nil when absent, null or empty.
    private func value(_ key: String) -> String? {
        let text: String
        switch event.data[key] {
        case .string(let string)?: text = string
        case .number(let number)?:
            guard number.isFinite else { return nil }
            text = number == number.rounded() && abs(number) < 1e15 ? String(Int64(number)) : String(number)
        case .bool(let flag)?: text = flag ? "yes" : "no"
        case .array(let elements)?: text = elements.compactMap { $0.stringValue ?? $0.numberValue.map { String($0) } }.joined(separator: ", ")
        default: return nil
        }
        return text.isEmpty ? nil : text
    }

    private static func section(_ text: String) -> JSONValue {
        .object(["type": "section", "text": mrkdwn(text)])
    }

    private static func mrkdwn(_ text: String) -> JSONValue {
        .object(["type": "mrkdwn", "text": .string(text)])
    }

    static func title(_ kind: NotificationEventKind) -> String {
        switch kind {
        case .requestCreated: "Access request waiting for approval"
        case .requestApproved: "Access request approved"
        case .requestDenied: "Access request denied"
        case .requestCancelled: "Access request cancelled"
        case .requestExpired: "Access request expired unanswered"
        case .requestEscalated: "Access request escalated"
        case .requestReviewed: "Break-glass use reviewed"
        case .breakGlassUsed: ":rotating_light: Break-glass access used"
        case .activationStarted: "Access started"
        case .activationExpiring: "Access ends soon"
        case .activationExtended: "Access extended"
        case .activationEnded: "Access ended"
        case .activationRevoked: "Access revoked"
        case .activationExpired: "Access expired"
        case .eligibilityAssigned: "Eligibility assigned"
        case .eligibilityExpiring: "Eligibility ends soon"
        case .eligibilityRemoved: "Eligibility removed"
        case .eligibilityExpired: "Eligibility ended"
        }
    }
}

/// Slack's text rules: `&`, `<` and `>` are control characters of mrkdwn and must be escaped
/// in anything that is not meant as markup.
enum SlackText {
    /// `text` escaped, cut (with "…") so the result is at most `budget` UTF-16 code units. The
    /// cut falls between characters and never inside an escape such as `&amp;`.
    static func escaped(_ text: String, budget: Int) -> String {
        let whole = text.map(escape).joined()
        guard whole.utf16.count > budget else { return whole }
        // Whole characters only, leaving one code unit for the ellipsis.
        var result = ""
        var used = 0
        for character in text {
            let piece = escape(character)
            guard used + piece.utf16.count < budget else { break }
            result += piece
            used += piece.utf16.count
        }
        return result + "…"
    }

    private static func escape(_ character: Character) -> String {
        switch character {
        case "&": "&amp;"
        case "<": "&lt;"
        case ">": "&gt;"
        default: String(character)
        }
    }

    /// Line breaks and other control characters as spaces, for one-line fields.
    static func singleLine(_ text: String) -> String {
        String(String.UnicodeScalarView(text.unicodeScalars.map { $0.properties.generalCategory == .control ? " " : $0 }))
    }
}
