import BuildInfo
import Foundation

/// Hypha's version and the commit it was built from, for `hypha --version`.
enum Version {
    /// The VERSION file's text, without its newline.
    static let number = String(cString: hypha_build_version()).trimmingCharacters(in: .whitespacesAndNewlines)
    /// A commit hash when the build named one (scripts/package.sh), else "unknown".
    static let commit = String(cString: hypha_build_commit())
    static let description = "\(number) (commit \(commit))"
}
