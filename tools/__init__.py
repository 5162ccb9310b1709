"""The tools an assistant calls: parameters, handlers and results, one module per tool."""
