@main
struct EmulatorPlaceholder { static func main() {} }
