import { RegistryError } from '../core/errors.js';
import { parseVersion, type HybridLogicalClock, type TagVersion } from '../core/hlc.js';

/** A write as its sender describes it: absent for a local write; between Berth peers the headers
 *  Berth-Tag-Version, Berth-Replicated-From and Berth-Tag-Base. */
export interface ReplicatedWrite {
  version: string;
  from: string;
  base?: string;
}

/** The version a tag write carries and, when replicated, the IDC it came from and the version it replaced. */
export interface WriteVersion {
  version: TagVersion;
  origin?: string;
  base?: string;
}

const MAX_CLOCK_DRIFT_MS = 5 * 60 * 1000;

/** Versions for tag writes on this IDC's hybrid logical clock. */
export class TagVersions {
  constructor(
    readonly clock: HybridLogicalClock,
    readonly idc: string,
  ) {}

  /** A local write: now on this IDC's clock. */
  local(): TagVersion {
    return { ...this.clock.tick(), idc: this.idc };
  }

  /**
   * The version of a write: a replicated one brings its own, which the clock observes so later local writes
   * order after it; anything else is a local write, versioned now.
   */
  of(replicated: ReplicatedWrite | undefined): WriteVersion {
    if (!replicated?.version) return { version: this.local() };
    const remote = parseVersion(replicated.version);
    if (!remote) throw new RegistryError('MANIFEST_INVALID', 'malformed Berth-Tag-Version', { detail: { value: replicated.version.slice(0, 100) } });
    // A peer whose clock runs far ahead would win every conflict and drag every clock along: refuse it.
    if (remote.wall > Date.now() + MAX_CLOCK_DRIFT_MS) {
      throw new RegistryError('MANIFEST_INVALID', 'Berth-Tag-Version is too far in the future (clock drift)', {
        detail: { value: replicated.version, maxDriftMs: MAX_CLOCK_DRIFT_MS },
      });
    }
    this.clock.observe(remote);
    return { version: remote, origin: replicated.from || remote.idc, ...(replicated.base && { base: replicated.base }) };
  }
}
