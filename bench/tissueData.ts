// The real tissue folder beside the project (../shared/data/dsb2018_tissue_public) as the
// benchmarks that use it read it: where it is, and its manifest's ids and kinds.
import fs from 'node:fs'
import path from 'node:path'

export const TISSUE_DATA = path.resolve(
  import.meta.dirname,
  '../../shared/data/dsb2018_tissue_public',
)

export interface ManifestRow {
  id: string
  /** tissue_rgb or brightfield. */
  kind: string
}

export function readTissueManifest(): ManifestRow[] {
  const [header, ...lines] = fs
    .readFileSync(path.join(TISSUE_DATA, 'manifest.csv'), 'utf8')
    .split(/\r?\n/)
    .filter((line) => line.trim() !== '')
  const columns = header.split(',')
  const id = columns.indexOf('id')
  const kind = columns.indexOf('kind')
  if (id < 0 || kind < 0) throw new Error(`${TISSUE_DATA}/manifest.csv has no id or kind column`)
  return lines.map((line) => {
    const cells = line.split(',')
    return { id: cells[id], kind: cells[kind] }
  })
}
