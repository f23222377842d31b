"""Complexity fixture: a match statement, nesting, a class."""


def route(command, verbose):
    match command:
        case "start":
            result = 1
        case "stop" | "halt":
            result = 2
        case {"action": action} if action:
            result = 3
        case [first, *_]:
            result = first
        case _:
            result = 0
    if verbose:
        print(result)
    return result


def nested(items):
    total = 0
    for item in items:
        if item > 0:
            while item:
                item -= 1
                total += 1 if item % 2 else 2
        elif item < 0 and total:
            total -= 1
    return total


class Shape:
    def area(self, kind, size):
        if kind == "square":
            return size * size
        return 0
