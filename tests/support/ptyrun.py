#!/usr/bin/env python3
"""Drive a program through a pseudo-terminal, as a person at a keyboard would.

usage: ptyrun.py [--timeout S] [--env K=V ...] -- PROGRAM ARGS... < script

The script on stdin has one action per line:
  send TEXT      type TEXT and Enter      (\\t, \\x03 escapes allowed)
  raw TEXT       type TEXT without Enter
  expect REGEX   wait until the screen output so far matches REGEX
  eof            press Ctrl-D
Everything the program printed is written to stdout at the end. Exit status:
the program's, or 124 when an expect timed out (the output is still shown)."""
import os, pty, re, select, signal, sys, time

def main():
    args = sys.argv[1:]
    timeout = 10.0
    env = dict(os.environ)
    while args and args[0] != "--":
        if args[0] == "--timeout":
            timeout = float(args[1]); args = args[2:]
        elif args[0] == "--env":
            k, v = args[1].split("=", 1); env[k] = v; args = args[2:]
        else:
            sys.exit("ptyrun: unknown option " + args[0])
    cmd = args[1:]
    script = sys.stdin.read().splitlines()
    pid, fd = pty.fork()
    if pid == 0:
        env["TERM"] = "xterm"
        os.execvpe(cmd[0], cmd, env)
    out = b""
    def pump(wait):
        nonlocal out
        r, _, _ = select.select([fd], [], [], wait)
        if r:
            try:
                data = os.read(fd, 65536)
            except OSError:
                return False
            if not data:
                return False
            out += data
        return True
    status = 0
    for line in script:
        action, _, text = line.partition(" ")
        text = text.encode().decode("unicode_escape")
        if action == "send":
            os.write(fd, text.encode() + b"\r")
        elif action == "raw":
            os.write(fd, text.encode())
        elif action == "eof":
            os.write(fd, b"\x04")
        elif action == "expect":
            deadline = time.time() + timeout
            while not re.search(text.encode(), out):
                if time.time() > deadline or not pump(0.05) and not re.search(text.encode(), out):
                    if time.time() > deadline:
                        status = 124
                        break
            if status:
                break
        # let the program settle between keystrokes
        pump(0.05)
    deadline = time.time() + timeout
    while time.time() < deadline:
        if not pump(0.1):
            break
        done, st = os.waitpid(pid, os.WNOHANG)
        if done:
            while pump(0.05):
                pass
            break
    else:
        os.kill(pid, signal.SIGKILL)
    try:
        _, st = os.waitpid(pid, 0)
        code = os.waitstatus_to_exitcode(st)
    except ChildProcessError:
        code = 0
    sys.stdout.write(out.decode("utf-8", "replace"))
    sys.exit(status or (code if code >= 0 else 128 - code))

main()
