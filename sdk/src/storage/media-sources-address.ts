// Which network addresses a media fetch may connect to. A media URI comes from dataset items,
// which anyone with write access controls, so a fetch must not become a way to reach the worker's
// own network (SSRF): loopback, private and link-local ranges are off limits unless the matched
// source says its hosts live there, and the cloud metadata endpoints, unspecified, multicast and
// broadcast addresses are off limits always.
import { BlockList, isIP } from "node:net";

interface Range {
  network: string;
  prefix: number;
  reason: string;
}

/** Never reachable, whatever the source allows. */
const ALWAYS: readonly Range[] = [
  { network: "169.254.169.254", prefix: 32, reason: "a cloud metadata address" },
  { network: "100.100.100.200", prefix: 32, reason: "a cloud metadata address" },
  { network: "fd00:ec2::254", prefix: 128, reason: "a cloud metadata address" },
  { network: "0.0.0.0", prefix: 8, reason: "an unspecified address" },
  { network: "::", prefix: 128, reason: "an unspecified address" },
  { network: "224.0.0.0", prefix: 4, reason: "a multicast address" },
  { network: "ff00::", prefix: 8, reason: "a multicast address" },
  { network: "240.0.0.0", prefix: 4, reason: "a reserved address" },
];

/** Reachable only through a source with allowPrivateNetwork. */
const PRIVATE: readonly Range[] = [
  { network: "127.0.0.0", prefix: 8, reason: "a loopback address" },
  { network: "::1", prefix: 128, reason: "a loopback address" },
  { network: "10.0.0.0", prefix: 8, reason: "a private address" },
  { network: "172.16.0.0", prefix: 12, reason: "a private address" },
  { network: "192.168.0.0", prefix: 16, reason: "a private address" },
  { network: "100.64.0.0", prefix: 10, reason: "a shared (carrier-grade NAT) address" },
  { network: "192.0.0.0", prefix: 24, reason: "a special-purpose address" },
  { network: "198.18.0.0", prefix: 15, reason: "a benchmarking address" },
  { network: "fc00::", prefix: 7, reason: "a private (unique local) address" },
  { network: "fec0::", prefix: 10, reason: "a site-local address" },
  { network: "169.254.0.0", prefix: 16, reason: "a link-local address" },
  { network: "fe80::", prefix: 10, reason: "a link-local address" },
];

function blockList(ranges: readonly Range[]): Array<{ list: BlockList; reason: string }> {
  return ranges.map(({ network, prefix, reason }) => {
    const list = new BlockList();
    list.addSubnet(network, prefix, isIP(network) === 6 ? "ipv6" : "ipv4");
    return { list, reason };
  });
}

const always = blockList(ALWAYS);
const privateRanges = blockList(PRIVATE);

/**
 * Why a fetch may not connect to `address` (an IP literal), or undefined when it may. IPv4 carried
 * inside IPv6 (mapped ::ffff:a.b.c.d, NAT64 64:ff9b::/96, 6to4 2002::/16) is judged as that IPv4.
 */
export function forbiddenAddressReason(address: string, allowPrivateNetwork: boolean): string | undefined {
  const family = isIP(address);
  if (family === 0) return "not an IP address";
  const embedded = family === 6 ? embeddedIpv4(address) : undefined;
  const ip = embedded ?? address;
  const type = embedded || family === 4 ? "ipv4" : "ipv6";
  for (const { list, reason } of always) if (list.check(ip, type)) return reason;
  if (allowPrivateNetwork) return undefined;
  for (const { list, reason } of privateRanges) if (list.check(ip, type)) return reason;
  return undefined;
}

/** The IPv4 address an IPv6 address carries (mapped, NAT64 or 6to4), if any. */
function embeddedIpv4(address: string): string | undefined {
  const groups = ipv6Groups(address);
  if (!groups) return undefined;
  const v4 = (high: number, low: number) => `${high >> 8}.${high & 0xff}.${low >> 8}.${low & 0xff}`;
  const zero = (from: number, to: number) => groups.slice(from, to).every((g) => g === 0);
  if (zero(0, 5) && groups[5] === 0xffff) return v4(groups[6] as number, groups[7] as number);
  if (groups[0] === 0x64 && groups[1] === 0xff9b && zero(2, 6)) return v4(groups[6] as number, groups[7] as number);
  if (groups[0] === 0x2002) return v4(groups[1] as number, groups[2] as number);
  return undefined;
}

/** The eight 16-bit groups of an IPv6 literal (with a zone id or a dotted IPv4 tail). */
function ipv6Groups(address: string): number[] | undefined {
  let text = address.split("%")[0] as string;
  const dotted = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (dotted) {
    const [a, b, c, d] = dotted.slice(1).map(Number) as [number, number, number, number];
    text = `${text.slice(0, dotted.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = text.split("::") as [string, string | undefined];
  const parse = (part: string) => (part === "" ? [] : part.split(":").map((g) => Number.parseInt(g, 16)));
  const front = parse(head);
  const back = tail === undefined ? [] : parse(tail);
  const missing = 8 - front.length - back.length;
  if (missing < 0 || (tail === undefined && missing !== 0)) return undefined;
  const groups = [...front, ...new Array<number>(missing).fill(0), ...back];
  return groups.every((g) => Number.isInteger(g) && g >= 0 && g <= 0xffff) ? groups : undefined;
}
