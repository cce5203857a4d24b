/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The cgroup of every process that ran before the probe, for its start-up
 * snapshot: a task iterator writes each thread-group leader's tgid and
 * cgroup v2 id (the id events carry, common.bpf.h), straight from the
 * kernel. /proc/PID/cgroup gives a path relative to the reader's cgroup
 * namespace, which in a container (a DaemonSet pod) is not the path under
 * the mounted tree; this does not depend on namespaces or mounts. Never
 * attached to a hook: the probe creates an iterator file per snapshot and
 * reads it (probe/loader.cc, TaskCgroups).
 */
#ifndef VIGIL_SNAPSHOT_BPF_H
#define VIGIL_SNAPSHOT_BPF_H

#include "common.bpf.h"

SEC("iter/task")
int snapshot_cgroups(struct bpf_iter__task *ctx)
{
	struct task_struct *task = ctx->task;
	struct vigil_task_cgroup r = {};

	if (!task)
		return 0; /* the end of the walk */
	/* Threads share their leader's entry; /proc lists leaders only. */
	if (BPF_CORE_READ(task, pid) != BPF_CORE_READ(task, tgid))
		return 0;
	r.tgid = BPF_CORE_READ(task, tgid);
	r.cgroup_id = BPF_CORE_READ(task, cgroups, dfl_cgrp, kn, id);
	bpf_seq_write(ctx->meta->seq, &r, sizeof(r));
	return 0;
}

#endif /* VIGIL_SNAPSHOT_BPF_H */
