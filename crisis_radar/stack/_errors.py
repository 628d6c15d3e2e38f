"""The one error type of the stack package: its message is what the user sees."""


class StackError(RuntimeError):
    pass
