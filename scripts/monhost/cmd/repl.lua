-- `monhost repl [FILE...]`: the interactive prompt; files are :load'ed first.
return { main = function(...) return require("monhost.repl").main(...) end }
