import Foundation
import TesseraJWT

/// One entry of a `GET /oncalls` answer, reduced to what Tessera uses.
struct PagerDutyOnCallEntry: Hashable {
    var policyID: String
    /// 1 is paged first.
    var level: Int
    /// Nil when the escalation policy names the person directly (`"schedule": null`).
    var scheduleID: String?
    /// The user's e-mail when the answer includes it, else their PagerDuty user id.
    var person: String
    /// Nil: on call since before any window (`"start": null`).
    var start: Date?
    /// Nil: never goes off call (`"end": null`).
    var end: Date?
}

/// One page of `GET /oncalls`, read strictly: every field Tessera relies on must be there with
/// the documented type, or the whole page (and with it the whole sync) is refused. A partial
/// reading would drop someone from the rotation without anybody noticing.
struct PagerDutyOnCallsPage {
    var entries: [PagerDutyOnCallEntry]
    var more: Bool

    /// What is wrong with an answer, in words that name the field (`oncalls[3].end`).
    struct Malformed: Error {
        let reason: String
        init(_ reason: String) { self.reason = reason }
    }

    /// Levels beyond this are not escalation levels anybody configured (PagerDuty allows a
    /// few dozen at most); a huge number is garbage, not a level.
    static let maximumLevel = 1000

    static func decode(_ body: [UInt8], requestedOffset: Int) throws(Malformed) -> PagerDutyOnCallsPage {
        let object: [String: JSONValue]
        do {
            object = try JSONParser.parseObject(body)
        } catch {
            throw Malformed("not a JSON object (\(error.description))")
        }
        guard let list = object["oncalls"]?.arrayValue else { throw Malformed("\"oncalls\" is missing or not an array") }
        guard let more = object["more"]?.boolValue else { throw Malformed("\"more\" is missing or not true or false") }
        // An answer for another offset than asked for would repeat or skip entries.
        if let offset = object["offset"], offset != .null {
            guard let value = integer(offset), value == requestedOffset else {
                throw Malformed("\"offset\" is \(describe(offset)), not the \(requestedOffset) asked for")
            }
        }
        var entries: [PagerDutyOnCallEntry] = []
        entries.reserveCapacity(list.count)
        for (index, value) in list.enumerated() {
            entries.append(try entry(value, at: "oncalls[\(index)]"))
        }
        return PagerDutyOnCallsPage(entries: entries, more: more)
    }

    private static func entry(_ value: JSONValue, at path: String) throws(Malformed) -> PagerDutyOnCallEntry {
        guard let object = value.objectValue else { throw Malformed("\(path) is not an object") }
        let policy = try identifier(object["escalation_policy"], at: path + ".escalation_policy")
        guard let levelValue = object["escalation_level"], let level = integer(levelValue), (1...maximumLevel).contains(level) else {
            throw Malformed("\(path).escalation_level is missing or not a level from 1 to \(maximumLevel)")
        }
        var schedule: String?
        if let scheduleValue = object["schedule"], scheduleValue != .null {
            schedule = try identifier(scheduleValue, at: path + ".schedule")
        }
        let person = try person(object["user"], at: path + ".user")
        let start = try time(object, "start", at: path)
        let end = try time(object, "end", at: path)
        if let start, let end, end < start {
            throw Malformed("\(path) ends before it starts")
        }
        return PagerDutyOnCallEntry(policyID: policy, level: level, scheduleID: schedule, person: person, start: start, end: end)
    }

    /// A reference object's `id`: `{"id": "PXXXXXX", "type": ..., "summary": ...}`.
    private static func identifier(_ value: JSONValue?, at path: String) throws(Malformed) -> String {
        guard let object = value?.objectValue else { throw Malformed("\(path) is missing or not an object") }
        guard let id = object["id"]?.stringValue, !id.isEmpty else { throw Malformed("\(path).id is missing or not a string") }
        return id
    }

    /// The user's e-mail (present with `include[]=users`), else their id: Tessera maps people
    /// by e-mail, and an id still names someone a mapping can list.
    private static func person(_ value: JSONValue?, at path: String) throws(Malformed) -> String {
        let id = try identifier(value, at: path)
        switch value?.objectValue?["email"] {
        case nil, .null?: return id
        case .string(let email)?: return email.isEmpty ? id : email
        default: throw Malformed("\(path).email is not a string")
        }
    }

    /// `start` or `end`: an RFC 3339 time, or null. The key must be there: PagerDuty always
    /// writes both, so a missing one means the answer is not what Tessera thinks it is.
    private static func time(_ object: [String: JSONValue], _ key: String, at path: String) throws(Malformed) -> Date? {
        switch object[key] {
        case nil: throw Malformed("\(path).\(key) is missing")
        case .null?: return nil
        case .string(let text)?:
            guard let date = PagerDutyTimestamp.date(from: text) else {
                throw Malformed("\(path).\(key) is not a date-time such as 2015-03-06T20:28:51Z")
            }
            return date
        default: throw Malformed("\(path).\(key) is neither a date-time nor null")
        }
    }

    /// A JSON number that is a whole number an `Int` holds.
    private static func integer(_ value: JSONValue) -> Int? {
        guard let number = value.numberValue, number.rounded() == number, abs(number) < 1e15 else { return nil }
        return Int(number)
    }

    /// A value's kind, for messages: never the value itself, which could be anything.
    private static func describe(_ value: JSONValue) -> String {
        switch value {
        case .null: "null"
        case .bool: "a boolean"
        case .number(let number): integer(value).map(String.init) ?? (number.isFinite ? "a fraction" : "a number")
        case .string: "a string"
        case .array: "an array"
        case .object: "an object"
        }
    }
}
