// The built-in plugins are registered in BuiltinPlugins.swift.
