// A datacenter made of Linux network namespaces (root only): every host its own namespace with one NIC (a veth
// pair) into a bridge — the switch — in a namespace of its own, every NIC capped with tc in both directions (the
// host's end shapes what it sends, the switch's end what it receives). Two IDCs are two bridges joined by one
// capped link. Addresses come from 198.18.0.0/15, the benchmarking range, which exists only inside these
// namespaces: nothing routes out. test/helpers/netns.ts uses the same primitives for a single linked namespace.
import { execFileSync } from 'node:child_process';

export const ip = (...args: string[]) => execFileSync('ip', args, { stdio: ['ignore', 'pipe', 'pipe'] }).toString();
const tc = (...args: string[]) => execFileSync('tc', args, { stdio: ['ignore', 'ignore', 'pipe'] });

export function canMakeNamespaces(): boolean {
  if (process.getuid?.() !== 0) return false;
  try {
    execFileSync('ip', ['netns', 'list'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Namespaces whose name starts with `prefix` (left over by a run that was killed, for instance). */
export function namespacesNamed(prefix: string): string[] {
  return ip('netns', 'list')
    .split('\n')
    .map((l) => l.split(' ')[0]!)
    .filter((n) => n.startsWith(prefix));
}

export function deleteNamespace(name: string): void {
  try {
    ip('netns', 'del', name);
  } catch {
    /* already gone */
  }
}

/**
 * Caps a device's egress at `bitsPerSecond` with a token bucket. The queue holds ~100 ms at the rate, as a
 * switch port's buffer would; beyond it packets drop and TCP backs off.
 */
export function capDevice(ns: string, dev: string, bitsPerSecond: number): void {
  const burst = Math.max(16 * 1024, Math.round(bitsPerSecond / 8 / 100)); // 10 ms of traffic, at least 16 KiB
  tc('-n', ns, 'qdisc', 'replace', 'dev', dev, 'root', 'tbf', 'rate', `${bitsPerSecond}bit`, 'burst', String(burst), 'latency', '100ms');
}

/** Takes a device's link down or up (a cable pulled, a flapping port). */
export function setLink(ns: string, dev: string, up: boolean): void {
  ip('-n', ns, 'link', 'set', dev, up ? 'up' : 'down');
}

/** Bytes a device sent and received. */
export function deviceBytes(ns: string, dev: string): { tx: number; rx: number } {
  const [s] = JSON.parse(ip('-n', ns, '-s', '-j', 'link', 'show', dev)) as { stats64: { tx: { bytes: number }; rx: { bytes: number } } }[];
  return { tx: s!.stats64.tx.bytes, rx: s!.stats64.rx.bytes };
}

/** Packets the qdiscs of a namespace dropped (a full queue at a capped NIC: tail drop, as a switch port does). */
export function qdiscDrops(ns: string): number {
  const qs = JSON.parse(execFileSync('tc', ['-n', ns, '-s', '-j', 'qdisc', 'show'], { stdio: ['ignore', 'pipe', 'pipe'] }).toString()) as { drops?: number }[];
  return qs.reduce((s, q) => s + (q.drops ?? 0), 0);
}

/** A namespace's TCP counters (/proc/net/snmp and netstat are per namespace): retransmits, SYN retransmits… */
export function tcpCounters(ns: string): Record<string, number> {
  const text = execFileSync('ip', ['netns', 'exec', ns, 'cat', '/proc/net/snmp', '/proc/net/netstat'], { stdio: ['ignore', 'pipe', 'pipe'] }).toString();
  const out: Record<string, number> = {};
  const lines = text.split('\n');
  for (let i = 0; i + 1 < lines.length; i++) {
    const [k, ...names] = lines[i]!.split(' ');
    const [k2, ...values] = lines[i + 1]!.split(' ');
    if (k !== k2 || !k?.endsWith(':') || !/^\d/.test(values[0] ?? '')) continue;
    names.forEach((n, j) => (out[`${k.slice(0, -1)}.${n}`] = Number(values[j])));
    i++;
  }
  return out;
}

export interface NetHost {
  /** Its namespace. */
  ns: string;
  /** Its NIC's address (eth0). */
  address: string;
  idc: string;
  /** Its port's device in the switch namespace. */
  switchPort: string;
}

export interface DatacenterOptions {
  /** Prefix of every namespace (`<prefix>-sw`, `<prefix>-<host>`). */
  prefix: string;
  /** Every host NIC's cap, both directions. */
  nicBitsPerSecond: number;
  /** IDC names: one bridge each. With two or more, bridge i and i+1 are joined by one link of `interIdcBitsPerSecond`. */
  idcs: string[];
  interIdcBitsPerSecond?: number;
}

export class Datacenter {
  readonly switchNs: string;
  readonly hosts: NetHost[] = [];
  private readonly namespaces: string[] = [];
  private readonly bridges = new Map<string, string>();
  private nextAddress = 1;

  constructor(private readonly o: DatacenterOptions) {
    this.switchNs = `${o.prefix}-sw`;
    this.addNamespace(this.switchNs);
    o.idcs.forEach((idc, i) => {
      const br = `br${i}`;
      ip('-n', this.switchNs, 'link', 'add', br, 'type', 'bridge');
      ip('-n', this.switchNs, 'link', 'set', br, 'up');
      this.bridges.set(idc, br);
      if (i === 0) return;
      // The inter-IDC link: a veth pair between bridge i-1 and bridge i, capped at both ends.
      const a = `ix${i - 1}a`;
      const b = `ix${i - 1}b`;
      ip('-n', this.switchNs, 'link', 'add', a, 'type', 'veth', 'peer', 'name', b);
      ip('-n', this.switchNs, 'link', 'set', a, 'master', `br${i - 1}`, 'up');
      ip('-n', this.switchNs, 'link', 'set', b, 'master', br, 'up');
      const cap = o.interIdcBitsPerSecond ?? o.nicBitsPerSecond;
      capDevice(this.switchNs, a, cap);
      capDevice(this.switchNs, b, cap);
    });
  }

  /** The device of the link from IDC 0 to IDC 1 (its tx: bytes into IDC 1, rx: bytes out of it). */
  get interIdcDevice(): string | undefined {
    return this.o.idcs.length > 1 ? 'ix0a' : undefined;
  }

  /** A host on `idc`'s switch with a capped NIC. Addresses: 198.18.0.1, .2, … in order of creation. */
  addHost(name: string, idc: string): NetHost {
    const br = this.bridges.get(idc);
    if (!br) throw new Error(`unknown IDC ${idc}`);
    const n = this.nextAddress++;
    const address = `198.18.${n >> 8}.${n & 255}`;
    const ns = `${this.o.prefix}-${name}`;
    const port = `p${n}`;
    this.addNamespace(ns);
    ip('-n', this.switchNs, 'link', 'add', port, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns);
    ip('-n', this.switchNs, 'link', 'set', port, 'master', br, 'up');
    ip('-n', ns, 'addr', 'add', `${address}/16`, 'dev', 'eth0');
    ip('-n', ns, 'link', 'set', 'eth0', 'up');
    ip('-n', ns, 'link', 'set', 'lo', 'up');
    capDevice(ns, 'eth0', this.o.nicBitsPerSecond);
    capDevice(this.switchNs, port, this.o.nicBitsPerSecond);
    const host = { ns, address, idc, switchPort: port };
    this.hosts.push(host);
    return host;
  }

  /**
   * Every host learns every other host's MAC address for good (permanent neighbour entries), as hosts behind a
   * routed top-of-rack switch need only their gateway's. On one flat bridge a host meeting a new peer has to ARP
   * for it first, and the broadcast and its answer cross the same full NIC queues as the data: at 50 nodes the
   * last to join could not resolve a single busy peer (EHOSTUNREACH, handshakes timing out for 30 s).
   */
  staticNeighbours(): void {
    const macs = this.hosts.map((h) => (JSON.parse(ip('-n', h.ns, '-j', 'link', 'show', 'eth0')) as { address: string }[])[0]!.address);
    for (const h of this.hosts) {
      const batch = this.hosts.flatMap((o, i) => (o === h ? [] : [`neigh replace ${o.address} lladdr ${macs[i]} dev eth0 nud permanent`])).join('\n');
      execFileSync('ip', ['-n', h.ns, '-batch', '-'], { input: batch, stdio: ['pipe', 'ignore', 'pipe'] });
    }
  }

  /** Neighbour entries that failed to resolve or are still resolving, over every host (ARP trouble). */
  unresolvedNeighbours(): number {
    let n = 0;
    for (const h of this.hosts) n += ip('-n', h.ns, 'neigh', 'show', 'dev', 'eth0').split('\n').filter((l) => /FAILED|INCOMPLETE/.test(l)).length;
    return n;
  }

  /**
   * An uncapped management link from this (the root) namespace into `host`'s: the bench uploads the blob and
   * reads the origin's metrics over it, so none of that crosses the datacenter's links. A /30 in 198.19.255.0/24.
   */
  manage(host: NetHost): { rootAddress: string; hostAddress: string } {
    const outer = `${this.o.prefix}-m`.slice(0, 15);
    // One /30 per prefix, so two datacenters (a bench run and a test) can exist side by side.
    let h = 0;
    for (const c of this.o.prefix) h = (h * 31 + c.charCodeAt(0)) % 64;
    const base = 4 * h;
    ip('link', 'add', outer, 'type', 'veth', 'peer', 'name', 'mgmt', 'netns', host.ns);
    ip('addr', 'add', `198.19.255.${base + 1}/30`, 'dev', outer);
    ip('link', 'set', outer, 'up');
    ip('-n', host.ns, 'addr', 'add', `198.19.255.${base + 2}/30`, 'dev', 'mgmt');
    ip('-n', host.ns, 'link', 'set', 'mgmt', 'up');
    return { rootAddress: `198.19.255.${base + 1}`, hostAddress: `198.19.255.${base + 2}` };
  }

  /** Deletes every namespace (their veths go with them) and the management link. */
  remove(): void {
    try {
      ip('link', 'del', `${this.o.prefix}-m`.slice(0, 15));
    } catch {
      /* none, or gone with its namespace */
    }
    for (const ns of this.namespaces.splice(0).reverse()) deleteNamespace(ns);
  }

  private addNamespace(ns: string): void {
    ip('netns', 'add', ns);
    this.namespaces.push(ns);
  }
}
