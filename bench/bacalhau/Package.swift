// swift-tools-version: 6.1
// The Bacalhau submission benchmark: a separate package (never a timed test) that builds the
// `bacalhau` plugin's client from Sources/Plugins/Bacalhau (linked in as BacalhauClient) and
// drives it against a loopback server. See bench/bacalhau/README.md and docs/BACALHAU.md.
import Foundation
import PackageDescription

// A path dependency's identity is its folder's name, whatever the checkout is called.
let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().standardizedFileURL
let rootIdentity = root.lastPathComponent.lowercased()

let package = Package(
    name: "BacalhauBench",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(path: root.path),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
    ],
    targets: [
        .target(
            name: "BacalhauClient",
            dependencies: [
                .product(name: "Engine", package: rootIdentity),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Sources/BacalhauClient"
        ),
        .executableTarget(
            name: "bacalhau-bench",
            dependencies: ["BacalhauClient", .product(name: "Engine", package: rootIdentity)],
            path: "Sources/bacalhau-bench"
        ),
    ]
)
