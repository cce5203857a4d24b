// The policy-report custom resources for the fake API server, without any
// CRD copied from another project:
// - wgpolicyk8s.io/v1alpha2 PolicyReport and ClusterPolicyReport are checked
//   by the validators @kubernetes-models/kyverno generates from Kyverno's CRDs
//   (an npm devDependency: its models' validate() runs the CRD's schema);
// - openreports.io/v1alpha1 Report and ClusterReport: the package ships the
//   result's schema (ReportResult) but not the report's, so the envelope
//   (apiVersion, kind, metadata, source, scope, scopeSelector, configuration,
//   summary, results) is written here by hand from OpenReports' API reference
//   (docs/api-docs.md of openreports/reports-api) and each result is checked
//   by the package's ReportResult validator.
// What pruning keeps is listed below as Record<keyof …> of the package's
// types, so tsc fails when a field is added to or missing from the list.
import type { IObjectReference } from 'kubernetes-models/v1/ObjectReference';
import {
  ClusterPolicyReport,
  PolicyReport,
  type IPolicyReport,
  type IPolicyReportResult,
  type IPolicyReportSummary,
} from '@kubernetes-models/kyverno/wgpolicyk8s.io/v1alpha2';
import { ReportResult, type IReportResult, type IReportSummary } from '@kubernetes-models/kyverno/openreports.io/v1alpha1';
import type { CustomResource, Fields } from './fake-api-server.js';

const LEAF: Fields = {};
const FREE: Fields = { preserveUnknown: true };

const objectReference: Record<keyof IObjectReference, Fields> = {
  apiVersion: LEAF, fieldPath: LEAF, kind: LEAF, name: LEAF, namespace: LEAF, resourceVersion: LEAF, uid: LEAF,
};
const timestamp: Fields = { properties: { seconds: LEAF, nanos: LEAF } };
const resultFields = (): Record<keyof IPolicyReportResult & keyof IReportResult, Fields> => ({
  category: LEAF, message: LEAF, policy: LEAF, properties: FREE, resourceSelector: FREE,
  resources: { items: { properties: objectReference } }, result: LEAF, rule: LEAF, scored: LEAF, severity: LEAF, source: LEAF, timestamp,
});
// Both result types have the same fields; these two lines fail to compile if they ever differ.
const wgResult: Record<keyof IPolicyReportResult, Fields> = resultFields();
const openResult: Record<keyof IReportResult, Fields> = resultFields();
const wgSummary: Record<keyof IPolicyReportSummary, Fields> = { pass: LEAF, fail: LEAF, warn: LEAF, error: LEAF, skip: LEAF };
const openSummary: Record<keyof IReportSummary, Fields> = { pass: LEAF, fail: LEAF, warn: LEAF, error: LEAF, skip: LEAF };

const wgReport: Record<Exclude<keyof IPolicyReport, 'apiVersion' | 'kind' | 'metadata'>, Fields> = {
  results: { items: { properties: wgResult } }, scope: { properties: objectReference }, scopeSelector: FREE, summary: { properties: wgSummary },
};

/** A kubernetes-models validation error as the API server's causes. */
function causes(validate: () => void): string[] {
  try {
    validate();
    return [];
  } catch (err) {
    const errors = (err as { errors?: { instancePath: string; message?: string; params?: Record<string, unknown> }[] }).errors;
    if (!errors) return [String(err)];
    return errors.map((e) => `${e.instancePath || '<root>'}: ${e.message}${e.params && 'allowedValues' in e.params ? ` (${(e.params.allowedValues as unknown[]).join(', ')})` : ''}`);
  }
}

export const WG_POLICY_REPORT: CustomResource = {
  group: 'wgpolicyk8s.io', version: 'v1alpha2', plural: 'policyreports', kind: 'PolicyReport', namespaced: true,
  validate: (o) => causes(() => new PolicyReport(o as never).validate()),
  fields: { properties: wgReport },
};
export const WG_CLUSTER_POLICY_REPORT: CustomResource = {
  group: 'wgpolicyk8s.io', version: 'v1alpha2', plural: 'clusterpolicyreports', kind: 'ClusterPolicyReport', namespaced: false,
  validate: (o) => causes(() => new ClusterPolicyReport(o as never).validate()),
  fields: { properties: wgReport },
};

/** The OpenReports envelope, by hand from its API reference; results by the package's validator. */
function openReportCauses(o: Record<string, unknown>): string[] {
  const out: string[] = [];
  const isObject = (v: unknown) => typeof v === 'object' && v !== null && !Array.isArray(v);
  for (const k of ['source'] as const) if (o[k] !== undefined && typeof o[k] !== 'string') out.push(`/${k}: must be string`);
  for (const k of ['scope', 'scopeSelector', 'configuration', 'summary'] as const) if (o[k] !== undefined && !isObject(o[k])) out.push(`/${k}: must be object`);
  if (isObject(o.summary)) {
    for (const [k, v] of Object.entries(o.summary as Record<string, unknown>)) if (!Number.isInteger(v)) out.push(`/summary/${k}: must be integer`);
  }
  if (o.results !== undefined) {
    if (!Array.isArray(o.results)) out.push('/results: must be array');
    else o.results.forEach((r, i) => out.push(...causes(() => new ReportResult(r as never).validate()).map((c) => `/results/${i}${c.replace(/^<root>/, '')}`)));
  }
  return out;
}
const openReport: Fields = {
  properties: {
    source: LEAF, scope: { properties: objectReference }, scopeSelector: FREE, configuration: FREE,
    summary: { properties: openSummary }, results: { items: { properties: openResult } },
  },
};

export const OPEN_REPORT: CustomResource = {
  group: 'openreports.io', version: 'v1alpha1', plural: 'reports', kind: 'Report', namespaced: true, validate: openReportCauses, fields: openReport,
};
export const OPEN_CLUSTER_REPORT: CustomResource = {
  group: 'openreports.io', version: 'v1alpha1', plural: 'clusterreports', kind: 'ClusterReport', namespaced: false, validate: openReportCauses, fields: openReport,
};

export const WG = [WG_POLICY_REPORT, WG_CLUSTER_POLICY_REPORT];
export const OPEN = [OPEN_REPORT, OPEN_CLUSTER_REPORT];
