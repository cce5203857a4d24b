# One file, exec or connect operation, for the enforcement tests: prints
# "ok", or the errno's name when the kernel refused it. A process killed
# by enforcement prints nothing (the test sees SIGKILL).
import errno, os, socket, sys

argv = sys.argv[1:]
try:
    # --move-to DIR: first move this process into the cgroup DIR (its
    # cgroup.procs), out of the workload's, before the operation.
    if argv[0] == '--move-to':
        with open(os.path.join(argv[1], 'cgroup.procs'), 'w') as f:
            f.write(str(os.getpid()))
        argv = argv[2:]
    # --as-uid N: first log in as audit login uid N (where the kernel lets
    # it be set) and become uid N, which drops every capability; stderr
    # says "pid loginuid" as the operation starts.
    if argv[0] == '--as-uid':
        uid = int(argv[1])
        try:
            with open('/proc/self/loginuid', 'w') as f:
                f.write(str(uid))
        except OSError:
            pass
        with open('/proc/self/loginuid') as f:
            loginuid = f.read().strip()
        os.setgroups([])
        os.setresgid(uid, uid, uid)
        os.setresuid(uid, uid, uid)
        sys.stderr.write('%d %s\n' % (os.getpid(), loginuid))
        sys.stderr.flush()
        argv = argv[2:]
    op, args = argv[0], argv[1:]
    if op == 'append':  # open for appending, then write: the file keeps its content unless the write happens
        fd = os.open(args[0], os.O_WRONLY | os.O_APPEND)
        os.write(fd, b'changed\n')
        os.close(fd)
    elif op == 'write':  # open for writing, truncating: what `echo x > f` does
        fd = os.open(args[0], os.O_WRONLY | os.O_TRUNC)
        os.write(fd, b'changed\n')
        os.close(fd)
    elif op == 'create':
        fd = os.open(args[0], os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        os.write(fd, b'new\n')
        os.close(fd)
    elif op == 'truncate':
        os.truncate(args[0], 0)
    elif op == 'unlink':
        os.unlink(args[0])
    elif op == 'rmdir':
        os.rmdir(args[0])
    elif op == 'rename':
        os.rename(args[0], args[1])
    elif op == 'chmod':
        os.chmod(args[0], int(args[1], 8))
    elif op == 'chown':
        os.chown(args[0], int(args[1]), int(args[2]))
    elif op == 'mkdir':
        os.mkdir(args[0])
    elif op == 'symlink':
        os.symlink(args[0], args[1])
    elif op == 'link':
        os.link(args[0], args[1])
    elif op == 'spawn':  # a child process runs the program: how it ended
        sys.stdout.flush()
        pid = os.fork()
        if pid == 0:
            try:
                os.execv(args[0], args)
            except OSError as e:
                os._exit(100 + e.errno)
        _, status = os.waitpid(pid, 0)
        print('killed' if os.WIFSIGNALED(status) and os.WTERMSIG(status) == 9 else 'exit %d' % os.WEXITSTATUS(status))
        sys.exit(0)
    elif op == 'exec':
        sys.stdout.flush()
        os.execv(args[0], args)
    elif op == 'connect':
        socket.create_connection(('127.0.0.1', int(args[0])), timeout=10).close()
    else:
        sys.exit('unknown operation ' + op)
    print('ok')
except OSError as e:
    print(errno.errorcode.get(e.errno, str(e.errno)))
