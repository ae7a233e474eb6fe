import Foundation

/// Opens the sign-in page in the person's browser (RFC 8252 §4: the system browser, never an
/// embedded view): `$BROWSER` when set (the URL as its last argument, or in place of `%s`),
/// else `xdg-open` when there is a display, else `open` on macOS. The URL is printed in every
/// case, for a session without a browser (SSH) to copy.
enum Browser {
    /// Whether a browser was started.
    static func open(_ url: String, environment: [String: String]) -> Bool {
        let command: String
        if let browser = environment["BROWSER"].nonEmpty?.split(separator: ":").first.map(String.init) {
            // The URL is passed as $1, never pasted into the shell text.
            command = browser.contains("%s") ? browser.replacingOccurrences(of: "%s", with: "\"$1\"") : browser + " \"$1\""
        } else if FileManager.default.isExecutableFile(atPath: "/usr/bin/open"), !FileManager.default.fileExists(atPath: "/proc") {
            command = "/usr/bin/open \"$1\""
        } else if environment["DISPLAY"].nonEmpty != nil || environment["WAYLAND_DISPLAY"].nonEmpty != nil {
            command = "xdg-open \"$1\""
        } else {
            return false
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", command, "tessera-browser", url]
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        do {
            try process.run()
        } catch {
            return false
        }
        return true
    }
}
