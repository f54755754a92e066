import { describe, expect, it } from 'vitest'
import { ExportQuery } from '../../../../shared/schemas/datasets.ts'
import {
  DEFAULT_EXPORT_SELECTION,
  exportQueryOf,
  NO_CLASS,
  newExportId,
} from './exportSelection.ts'

const parsed = (query: string) => ExportQuery.parse(Object.fromEntries(new URLSearchParams(query)))

describe('exportQueryOf', () => {
  it('sends review always and leaves out filters that keep everything', () => {
    const built = exportQueryOf(DEFAULT_EXPORT_SELECTION, ['1', '2', NO_CLASS])
    expect(built).toEqual({ query: 'format=coco&review=accepted' })
  })

  it('makes a query the server parses back to the selection', () => {
    const built = exportQueryOf(
      {
        format: 'yolo-segment',
        status: ['reviewed', 'done'],
        review: ['rejected', 'accepted'],
        origin: ['model'],
        excludedClasses: ['2', '99'],
        images: true,
      },
      ['1', '2', NO_CLASS],
    )
    if (!('query' in built)) throw new Error(built.problem)
    expect(parsed(`${built.query}&progress=${newExportId()}`)).toMatchObject({
      format: 'yolo-segment',
      status: ['done', 'reviewed'],
      review: ['accepted', 'rejected'],
      origin: ['model'],
      classes: [1, 'none'],
      images: true,
    })
  })

  it('refuses a filter that keeps nothing', () => {
    expect(exportQueryOf({ ...DEFAULT_EXPORT_SELECTION, status: [] }, [])).toHaveProperty('problem')
    expect(exportQueryOf({ ...DEFAULT_EXPORT_SELECTION, review: [] }, [])).toHaveProperty('problem')
    expect(
      exportQueryOf({ ...DEFAULT_EXPORT_SELECTION, excludedClasses: ['1', NO_CLASS] }, [
        '1',
        NO_CLASS,
      ]),
    ).toHaveProperty('problem')
  })
})
