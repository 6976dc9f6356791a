/** The options that say which clusters a command acts on (report, dedupe): one definition. */
import { Command, Option } from 'commander';
import { LINKAGES, type Linkage } from '../cluster/linkage.js';
import type { ClusterSource } from '../stages/clusters.js';
import { defaults } from './home.js';
import { similarity } from './options.js';

export interface SourceOptions {
  dbfile?: string;
  fromJson?: string;
  absolute?: boolean;
  linkage: Linkage;
  includeFlat?: boolean;
}

export function withClusterSource(cmd: Command): Command {
  return cmd
    .argument('[sim]', 'cut, as for imgcmp cluster (or give --from-json)', similarity)
    .option('-f, --dbfile <file>', 'database file (default: $IMGCMP_HOME/fingerprints.hdf)')
    .option('--from-json <file>', 'clusters written by imgcmp cluster --json, instead of SIM')
    .option('--absolute', 'SIM is a fraction of the fingerprint bits')
    .addOption(new Option('--linkage <method>', 'how cluster distances are measured').choices(LINKAGES).default('average'))
    .option('--include-flat', 'cluster flat pictures too');
}

export function clusterSource(sim: number | undefined, opts: SourceOptions): ClusterSource {
  return {
    dbfile: opts.dbfile ?? defaults.dbFile(),
    sim,
    absolute: !!opts.absolute,
    linkage: opts.linkage,
    includeFlat: !!opts.includeFlat,
    fromJson: opts.fromJson,
  };
}

/** How the clusters were made, in words. */
export function describeSource(src: ClusterSource): string {
  if (src.fromJson) return `clusters from ${src.fromJson}`;
  return `${src.linkage} linkage, cut ${src.sim}${src.absolute ? ' (absolute)' : ' × largest distance'}, database ${src.dbfile}`;
}
