// The pattern language profiles use for files.read / files.write.
import { describe, expect, it } from 'vitest';
import { globMatch, parsePattern, subsumes } from '../../../src/detect/profile/glob.js';

describe('globMatch', () => {
  it('`*` matches within one component, never across "/"', () => {
    expect(globMatch('/proc/*/stat', '/proc/1234/stat')).toBe(true);
    expect(globMatch('/proc/*/stat', '/proc/1234/task/5/stat')).toBe(false);
    expect(globMatch('/tmp/tmp*', '/tmp/tmp')).toBe(true);
    expect(globMatch('/tmp/tmp*', '/tmp/tmpa8Xk2_q1')).toBe(true);
    expect(globMatch('/tmp/tmp*', '/tmp/tmpdir/payload')).toBe(false);
    expect(globMatch('/var/log/nginx/access.log*', '/var/log/nginx/access.log.3.gz')).toBe(true);
    expect(globMatch('/var/log/nginx/access.log*', '/var/log/nginx/error.log')).toBe(false);
    expect(globMatch('/app/logs/shop.*.log*', '/app/logs/shop.2026-11-23.0.log.gz')).toBe(true);
    expect(globMatch('/app/logs/shop.*.log*', '/app/logs/shop.log')).toBe(false);
    expect(globMatch('/a/*b*c*d', '/a/xbybczcd')).toBe(true);
    expect(globMatch('/a/*b*c*d', '/a/xbybczc')).toBe(false);
  });

  it('`**` as a whole component matches zero or more components', () => {
    expect(globMatch('/srv/www/**', '/srv/www')).toBe(true);
    expect(globMatch('/srv/www/**', '/srv/www/index.html')).toBe(true);
    expect(globMatch('/srv/www/**', '/srv/www/a/b/c.css')).toBe(true);
    expect(globMatch('/srv/www/**', '/srv/wwwx/a')).toBe(false);
    expect(globMatch('/srv/**/*.css', '/srv/a/b/c.css')).toBe(true);
    expect(globMatch('/srv/**/*.css', '/srv/c.css')).toBe(true);
    expect(globMatch('/srv/**/*.css', '/srv/a/b/c.js')).toBe(false);
    expect(globMatch('/**', '/etc/shadow')).toBe(true);
    expect(globMatch('/**', '/')).toBe(true);
    // Inside a component, '**' is just '*'.
    expect(globMatch('/tmp/a**b', '/tmp/axxb')).toBe(true);
    expect(globMatch('/tmp/a**b', '/tmp/ax/xb')).toBe(false);
  });

  it('`?` matches exactly one character of a component', () => {
    expect(globMatch('/dev/tty?', '/dev/tty1')).toBe(true);
    expect(globMatch('/dev/tty?', '/dev/tty')).toBe(false);
    expect(globMatch('/dev/tty?', '/dev/tty12')).toBe(false);
    expect(globMatch('/a?b', '/a/b')).toBe(false);
  });

  it('everything else is literal, and `\\` escapes * ? \\', () => {
    expect(globMatch('/srv/[abc].txt', '/srv/[abc].txt')).toBe(true);
    expect(globMatch('/srv/[abc].txt', '/srv/a.txt')).toBe(false);
    expect(globMatch('/srv/a.b', '/srv/axb')).toBe(false);
    expect(globMatch('/data/a\\*b', '/data/a*b')).toBe(true);
    expect(globMatch('/data/a\\*b', '/data/axxb')).toBe(false);
    expect(globMatch('/data/what\\?', '/data/what?')).toBe(true);
    expect(globMatch('/data/what\\?', '/data/whatx')).toBe(false);
    expect(globMatch('/data/back\\\\slash', '/data/back\\slash')).toBe(true);
  });

  it('matches the whole path, case-sensitively', () => {
    expect(globMatch('/etc/passwd', '/etc/passwd')).toBe(true);
    expect(globMatch('/etc/passwd', '/etc/passwd-')).toBe(false);
    expect(globMatch('/etc/passwd', '/ETC/passwd')).toBe(false);
    expect(globMatch('/etc/*', '/etc')).toBe(false);
    expect(globMatch('/etc/*', 'etc/passwd')).toBe(false);
  });

  it('names what is wrong with a malformed pattern', () => {
    expect(() => globMatch('etc/*', '/etc/x')).toThrow(/not an absolute path/);
    expect(() => globMatch('/etc//x', '/etc/x')).toThrow(/empty path component/);
    expect(() => globMatch('/etc/', '/etc')).toThrow(/trailing/);
    expect(() => globMatch('/etc/../x', '/x')).toThrow(/'\.\.' component/);
    expect(() => globMatch('/etc/a\\b', '/etc/ab')).toThrow(/must be followed by/);
  });
});

describe('subsumes', () => {
  const sub = (p: string, q: string): boolean => subsumes(parsePattern(p), parsePattern(q));

  it('says yes only when every path of the second is a path of the first', () => {
    expect(sub('/tmp/*', '/tmp/tmp*')).toBe(true);
    expect(sub('/tmp/tmp*', '/tmp/tmp_*')).toBe(true);
    expect(sub('/tmp/tmp_*', '/tmp/tmp*')).toBe(false);
    expect(sub('/var/log/x.log*', '/var/log/x.log')).toBe(true);
    expect(sub('/a/**', '/a/*/b/*.c')).toBe(true);
    expect(sub('/a/*', '/a/**')).toBe(false);
    expect(sub('/a/*', '/a/b/c')).toBe(false);
    expect(sub('/a/?', '/a/*')).toBe(false);
    expect(sub('/a/*', '/a/?')).toBe(true);
    expect(sub('/a/?x', '/a/?x')).toBe(true);
    expect(sub('/proc/*/stat', '/proc/self/stat')).toBe(true);
    expect(sub('/proc/self/stat', '/proc/*/stat')).toBe(false);
  });
});
