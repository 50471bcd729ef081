// Many files written by one process. Each file step of the apply script (`mxp_put`) starts four
// programs (base64, chmod, chown, mv) besides its subshell: about 10 ms a file on a small host, 30 s
// for 3000 files; a new directory three. A run of consecutive such steps is made instead by one
// perl (perl-base is Essential in Debian: every host mxplay manages has it), doing exactly what
// mxp_backup and mxp_put, or mkdir -p, chmod and chown do, one after another, with the same
// markers, notifications and failure report.
import { pipedFrom, q } from '../resources/sh.ts';
import type { FileWrite } from '../resources/types.ts';

/** One step of a batch: its id, the file or directory, and the handlers it notifies once made. */
export interface BatchedWrite {
  id: number;
  write: FileWrite;
  notify: string[];
}

/**
 * The records perl reads: per step a header line (f for a file or d for a directory, the step id,
 * the mode in octal, the byte lengths of owner, group, path and content, the number of handlers),
 * the fields as raw bytes, then each handler as its length on a line and its bytes. Lengths, not
 * delimiters: no value can end a field early. (The stream travels base64 in a here-document.)
 */
export function batchPayload(writes: BatchedWrite[]): Buffer {
  const parts: Buffer[] = [];
  for (const { id, write: w, notify } of writes) {
    const fields = [w.owner, w.group, w.path].map((s) => Buffer.from(s, 'utf8'));
    const content = 'directory' in w ? Buffer.alloc(0) : Buffer.isBuffer(w.content) ? w.content : Buffer.from(w.content, 'utf8');
    const kind = 'directory' in w ? 'd' : 'f';
    parts.push(Buffer.from(`${kind} ${id} ${w.mode.toString(8)} ${fields.map((f) => f.length).join(' ')} ${content.length} ${notify.length}\n`), ...fields, content);
    for (const n of notify) {
      const b = Buffer.from(n, 'utf8');
      parts.push(Buffer.from(`${b.length}\n`), b);
    }
  }
  return Buffer.concat(parts);
}

/**
 * mxp_backup and mxp_put (engine/scripts.ts PRELUDE) for each record, then mxp_notify for its
 * handlers. Arguments: state dir, versions kept, rollback-on flag, rollback list, progress file
 * (the id of the step under way, for the failure report), pending-handlers file.
 */
const PERL = String.raw`use strict; use warnings;
my ($state, $keep, $rbon, $rb, $progress, $pending) = @ARGV;
$| = 1; binmode STDIN; binmode STDOUT;
sub there { -e $_[0] || -l $_[0] }
sub rm { my ($p) = @_; unlink($p) or die "rm $p: $!\n" if there($p) }
sub vmv { my ($a, $b) = @_;
  for my $x ('', '.mxp-meta') { if (there("$a$x")) { rename("$a$x", "$b$x") or die "mv $a$x: $!\n" } else { rm("$b$x") } } }
sub mkdirs { my ($d) = @_; return if $d eq '' || -d $d; mkdirs($d =~ s{/[^/]*$}{}r); mkdir($d) or -d $d or die "mkdir $d: $!\n" }
sub put_text { my ($p, $text) = @_; open(my $f, '>', $p) or die "$p: $!\n"; print $f $text; close($f) or die "$p: $!\n" }
sub backup { my ($path) = @_; my $b = "$state/backup$path";
  my $u = umask; umask 077; mkdirs($b =~ s{/[^/]*$}{}r); umask $u;
  if ($rbon ne '') { open(my $f, '>>', $rb) or die "$rb: $!\n"; print $f "$path\n"; close($f) or die "$rb: $!\n" }
  my $i = $keep - 1;
  rm($_) for ("$b.mxp-$i", "$b.mxp-$i.mxp-meta", "$b.absent");
  while ($i > 1) { vmv("$b.mxp-" . ($i - 1), "$b.mxp-$i"); $i-- }
  if ($keep > 1) { vmv($b, "$b.mxp-1") } else { rm($b); rm("$b.mxp-meta") }
  umask 077;
  if (there($path)) {
    my @st = lstat($path) or die "stat $path: $!\n";
    rm("$b.mxp-tmp");
    if (-l $path) { symlink(readlink($path), "$b.mxp-tmp") or die "cp $path: $!\n" }
    else {
      open(my $in, '<', $path) or die "cp $path: $!\n"; binmode $in; local $/; my $data = <$in>;
      defined $data or die "cp $path: $!\n"; close($in);
      open(my $out, '>', "$b.mxp-tmp") or die "cp $path: $!\n"; binmode $out; print $out $data; close($out) or die "cp $path: $!\n";
      utime($st[8], $st[9], "$b.mxp-tmp") or die "cp $path: $!\n";
      chmod(0600, "$b.mxp-tmp") or die "chmod $b.mxp-tmp: $!\n";
    }
    rename("$b.mxp-tmp", $b) or die "mv $b.mxp-tmp: $!\n";
    put_text("$b.mxp-meta", sprintf("%o %d %d\n", $st[2] & 07777, $st[4], $st[5]));
  } else { put_text("$b.mxp-meta", "absent\n") }
  umask $u;
}
my %ids;
sub id_of { my ($name, $kind) = @_; return $name if $name =~ /^\d+$/;
  my $id = $ids{"$kind:$name"} //= $kind eq 'user' ? getpwnam($name) : getgrnam($name);
  defined $id or die "chown: invalid $kind: '$name'\n"; $id }
sub own { my ($p, $mode, $owner, $group) = @_;
  chmod(oct($mode), $p) or die "chmod $p: $!\n";
  chown(id_of($owner, 'user'), id_of($group, 'group'), $p) or die "chown $p: $!\n" }
sub notify { my ($h) = @_; my $have = 0;
  if (open(my $f, '<', $pending)) { while (my $l = <$f>) { chomp $l; $have = 1 if $l eq $h } close($f) }
  return if $have;
  open(my $f, '>>', $pending) or die "$pending: $!\n"; print $f "$h\n"; close($f) or die "$pending: $!\n" }
sub take { my ($n) = @_; my $buf = '';
  while (length($buf) < $n) { my $r = read(STDIN, $buf, $n - length($buf), length($buf)); die "the batch was cut short\n" unless $r } $buf }
# The step under way, rewritten in place (ids only grow, and the shell reads the first line).
open(my $at, '+<', $progress) or die "$progress: $!\n";
while (defined(my $head = <STDIN>)) {
  my ($kind, $id, $mode, $lo, $lg, $lp, $lc, $nn) = split ' ', $head;
  sysseek($at, 0, 0) and syswrite($at, "$id\n") or die "$progress: $!\n";
  my ($owner, $group, $path, $content) = (take($lo), take($lg), take($lp), take($lc));
  my @handlers; for (1 .. $nn) { my $l = <STDIN>; push @handlers, take($l + 0) }
  if ($kind eq 'd') { mkdirs($path); own($path, $mode, $owner, $group) }
  else {
    backup($path);
    my $t = $path =~ s{/([^/]*)$}{/.$1.mxp-tmp}r;
    my $u = umask; umask 077;
    open(my $f, '>', $t) or die "$t: $!\n"; binmode $f; print $f $content; close($f) or die "$t: $!\n";
    umask $u;
    own($t, $mode, $owner, $group);
    rename($t, $path) or die "mv $t $path: $!\n";
  }
  print "\@\@mxp ok $id\n";
  notify($_) for @handlers;
}
`;

/**
 * The batch as a part of the apply script. Its failure is reported as the failing step's, through
 * mxp_fail: the progress file names that step (the first one before perl starts, in case perl
 * cannot start at all), and the step's output is perl's message.
 */
export function batchScript(writes: BatchedWrite[], pendingFile: string): string {
  const args = ['"$MXP_STATE"', '"$MXP_KEEP"', '"$MXP_RBON"', '"$MXP_RB"', '"$MXP_BID"', q(pendingFile)].join(' ');
  return [
    `MXP_PL=${q(PERL)}`,
    `echo ${writes[0]!.id} > "$MXP_BID"`,
    pipedFrom(batchPayload(writes), `perl -e "$MXP_PL" ${args} 9>&- 2>"$MXP_OUT"`),
    'MXP_RC=$?',
    'if [ $MXP_RC -ne 0 ]; then read -r MXP_I < "$MXP_BID"; mxp_fail "$MXP_I" $MXP_RC; fi',
  ].join('\n');
}
