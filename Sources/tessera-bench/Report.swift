import Foundation

/// Plain-text formatting for the benchmark's report; deterministic (no locale) so runs diff cleanly.
enum Format {
    /// `36512.4` -> `"36,512"` (rates are never negative).
    static func count(_ value: Double) -> String {
        let digits = String(Int(value.rounded()))
        var grouped = ""
        for (index, digit) in digits.enumerated() {
            if index > 0, (digits.count - index) % 3 == 0 { grouped.append(",") }
            grouped.append(digit)
        }
        return grouped
    }

    static func ratio(_ value: Double) -> String {
        String(format: "%.3f", value)
    }

    static func milliseconds(_ microseconds: Double) -> String {
        String(format: "%.2f ms", microseconds / 1000)
    }

    /// Left-aligns `text` in a column of `width` characters.
    static func left(_ text: String, _ width: Int) -> String {
        text.count >= width ? text : text + String(repeating: " ", count: width - text.count)
    }

    /// Right-aligns `text` in a column of `width` characters.
    static func right(_ text: String, _ width: Int) -> String {
        text.count >= width ? text : String(repeating: " ", count: width - text.count) + text
    }
}

/// A ratio against a target, or an informational ratio the target does not apply to.
struct Verdict {
    let ratio: Double
    let target: Double
    let applies: Bool
    /// What the target is set for, named when it does not apply.
    var appliesTo = "ES256"

    var description: String {
        let goal = "target >= \(String(format: "%.2f", target))"
        guard applies else { return "info (\(goal) applies to \(appliesTo) only)" }
        return ratio >= target ? "PASS (\(goal))" : "BELOW TARGET (\(goal))"
    }
}
