// The set*id patterns the privilege rules judge, as real programs make them.
//
//   setid-bracket daemon N   a daemon started as root that works as another
//                            user for a while and takes its root back, N
//                            rounds: smbd's become_root/unbecome_root, sshd's
//                            temporarily_use_uid/restore_uid, postfix, vsftpd
//                            (seteuid/setegid, the gid back first or last), and
//                            nfs-ganesha's per-request setfsuid/setfsgid.
//   setid-bracket euid       a set-uid-root program run by another user: drops
//                            its effective uid to the real one, takes root back
//                            (seteuid(0), through the saved uid).
//   setid-bracket real       a set-uid-root program making its real uid root
//                            (setresuid(0, -1, -1)), the step before exec of a
//                            shell that keeps root.
//   setid-bracket egid       a set-gid-root program run by another user: drops
//                            its effective gid to the real one, takes gid 0 back.
//
// Each mode checks the ids it left and exits 1 (naming the step) when a call
// did not do what it should, so a test cannot pass on a call that failed.
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fsuid.h>
#include <sys/stat.h>
#include <unistd.h>

#define NOBODY 65534

static void want(int ok, const char *step) {
  if (!ok) {
    fprintf(stderr, "setid-bracket: %s\n", step);
    exit(1);
  }
}

static int uids_are(uid_t r, uid_t e, uid_t s) {
  uid_t a, b, c;
  return getresuid(&a, &b, &c) == 0 && a == r && b == e && c == s;
}

static int gids_are(gid_t r, gid_t e, gid_t s) {
  gid_t a, b, c;
  return getresgid(&a, &b, &c) == 0 && a == r && b == e && c == s;
}

/** Work done as the other user: what a file server does for a client. */
static void work(void) {
  struct stat st;
  want(stat("/", &st) == 0, "stat / as the dropped user");
}

static void daemon_rounds(int rounds) {
  want(uids_are(0, 0, 0) && gids_are(0, 0, 0), "daemon mode runs as root");
  for (int i = 0; i < rounds; i++) {
    // Drop: the group first (setegid needs the effective root it is about to give up).
    want(setegid(NOBODY) == 0, "setegid(nobody)");
    want(seteuid(NOBODY) == 0, "seteuid(nobody)");
    want(uids_are(0, NOBODY, 0) && gids_are(0, NOBODY, 0), "dropped to nobody, root kept as real and saved ids");
    work();
    if (i % 2 == 0) {
      // Back: uid first, then the group as root (smbd, sshd's restore_uid).
      want(seteuid(0) == 0, "seteuid(0)");
      want(setegid(0) == 0, "setegid(0) as root");
    } else {
      // Back: the group first, through the real and saved gid 0, with the effective uid still nobody.
      want(setegid(0) == 0, "setegid(0) as nobody");
      want(seteuid(0) == 0, "seteuid(0) after the group");
    }
    want(uids_are(0, 0, 0) && gids_are(0, 0, 0), "root again");
    // Per request, as nfs-ganesha: only the file system ids (setfsuid returns the previous one).
    want(setfsuid(NOBODY) == 0 && setfsgid(NOBODY) == 0, "setfs*id(nobody)");
    work();
    want(setfsgid(0) == NOBODY && setfsuid(0) == NOBODY, "setfs*id(0)");
    want(setfsuid(-1) == 0 && setfsgid(-1) == 0, "file system ids root again");
  }
}

int main(int argc, char **argv) {
  const char *mode = argc > 1 ? argv[1] : "";
  if (strcmp(mode, "daemon") == 0) {
    daemon_rounds(argc > 2 ? atoi(argv[2]) : 1);
  } else if (strcmp(mode, "euid") == 0) {
    uid_t me = getuid();
    want(me != 0 && uids_are(me, 0, 0), "euid mode runs set-uid root by a user other than root");
    want(seteuid(me) == 0 && uids_are(me, me, 0), "seteuid(real uid)");
    want(seteuid(0) == 0 && uids_are(me, 0, 0), "seteuid(0) through the saved uid");
  } else if (strcmp(mode, "real") == 0) {
    uid_t me = getuid();
    want(me != 0 && uids_are(me, 0, 0), "real mode runs set-uid root by a user other than root");
    want(setresuid(0, -1, -1) == 0 && uids_are(0, 0, 0), "setresuid(0, -1, -1)");
  } else if (strcmp(mode, "egid") == 0) {
    gid_t me = getgid();
    want(me != 0 && getuid() != 0 && geteuid() != 0 && gids_are(me, 0, 0), "egid mode runs set-gid root by a user other than root");
    want(setegid(me) == 0 && gids_are(me, me, 0), "setegid(real gid)");
    want(setegid(0) == 0 && gids_are(me, 0, 0), "setegid(0) through the saved gid");
  } else {
    fprintf(stderr, "usage: setid-bracket daemon [rounds] | euid | real | egid\n");
    return 2;
  }
  return 0;
}
