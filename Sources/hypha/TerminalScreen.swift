import Dispatch
import Foundation
import Glibc
import Synchronization

/// A whole-screen view on the terminal (`hypha top`): the alternate screen with the cursor
/// hidden, and keys read one by one without echo when stdin is a terminal. `restore` puts the
/// terminal back as it was; call it on every way out.
final class TerminalScreen: Sendable {
    /// The keyboard's mode before, when stdin is a terminal.
    private nonisolated(unsafe) let saved: termios?
    private let restored = Atomic<Bool>(false)

    init() {
        var saved: termios?
        if isatty(0) == 1 {
            var mode = termios()
            if tcgetattr(0, &mode) == 0 {
                saved = mode
                // Keys as they are typed, not echoed; Ctrl-C still sends SIGINT (ISIG stays).
                mode.c_lflag &= ~tcflag_t(ICANON | ECHO)
                withUnsafeMutableBytes(of: &mode.c_cc) { cc in
                    cc[Int(VMIN)] = 1
                    cc[Int(VTIME)] = 0
                }
                tcsetattr(0, TCSAFLUSH, &mode)
            }
        }
        self.saved = saved
        Self.write("\u{1B}[?1049h\u{1B}[?25l")
    }

    /// Leaves the alternate screen (the screen from before comes back), shows the cursor and
    /// restores the keyboard's mode. Only the first call does anything.
    func restore() {
        guard !restored.exchange(true, ordering: .relaxed) else { return }
        Self.write("\u{1B}[?25h\u{1B}[?1049l")
        if var saved { tcsetattr(0, TCSANOW, &saved) }
    }

    deinit { restore() }

    /// Draws `lines` from the top left, each cut to the terminal's width, and clears the rest.
    func draw(_ lines: [String]) {
        let width = Self.width
        var text = "\u{1B}[H"
        for line in lines {
            text += (line.count > width ? String(line.prefix(width)) : line) + "\u{1B}[K\n"
        }
        Self.write(text + "\u{1B}[J")
    }

    /// The terminal's columns (80 when it does not say).
    static var width: Int {
        var size = winsize()
        guard ioctl(1, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 0 else { return 80 }
        return Int(size.ws_col)
    }

    /// The bytes typed, while stdin is a terminal (none otherwise), until the stream is dropped.
    static func keys() -> AsyncStream<UInt8> {
        AsyncStream { continuation in
            guard isatty(0) == 1 else {
                continuation.finish()
                return
            }
            nonisolated(unsafe) let source = DispatchSource.makeReadSource(fileDescriptor: 0, queue: .global())
            source.setEventHandler {
                var buffer = [UInt8](repeating: 0, count: 64)
                let count = read(0, &buffer, buffer.count)
                guard count > 0 else {
                    continuation.finish()
                    return
                }
                for byte in buffer[..<count] { continuation.yield(byte) }
            }
            continuation.onTermination = { _ in source.cancel() }
            source.resume()
        }
    }

    static func write(_ text: String) {
        FileHandle.standardOutput.write(Data(text.utf8))
    }
}
