// A workload's mode: what Vigil does with its behaviour (README: Modes).
//   learn    record what it does; only signature rules alert
//   monitor  anything outside its profile raises an anomaly alert
//   enforce  outside the profile is stopped (in the kernel where it can be)
export const MODES = ['learn', 'monitor', 'enforce'] as const;
export type Mode = (typeof MODES)[number];
