// An image reference as a runtime reports it → repository, tag, digest
// (container.image.repository / .tag / .digest). Kept as written, not
// normalised: Docker says "nginx" where containerd says
// "docker.io/library/nginx", and Falco's rules list both forms.

export interface ImageRef {
  repository: string;
  tag: string;
  /** "sha256:…" when the reference pins one. */
  digest: string;
}

const IMAGE_ID = /^(?:sha256:)?[0-9a-f]{64}$/;

/** Parses "registry:5000/a/b:tag@sha256:…"; an image id alone (sha256:…) has no repository. */
export function parseImageRef(ref: string): ImageRef {
  if (ref === '' || IMAGE_ID.test(ref)) return { repository: '', tag: '', digest: '' };
  let rest = ref;
  let digest = '';
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
  }
  let tag = '';
  const colon = rest.lastIndexOf(':');
  // A colon before the last slash is a registry's port, not a tag.
  if (colon > rest.lastIndexOf('/')) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
  }
  if (tag === '' && digest === '') tag = 'latest';
  return { repository: rest, tag, digest };
}

/** The digest a "repo@sha256:…" reference (a repo digest, an image_ref) pins, or ''. */
export function digestOf(ref: string): string {
  const at = ref.indexOf('@');
  return at >= 0 ? ref.slice(at + 1) : '';
}
