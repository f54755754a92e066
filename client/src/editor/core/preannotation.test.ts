// When an image is pre-annotated: only where the project asks, the image is unfinished, it was
// opened through Next or carries an older version's suggestions, and none of the current one's.
import { describe, expect, it } from 'vitest'
import type { AnnotationOrigin } from '../../../../shared/schemas/annotation.ts'
import {
  describePreannotation,
  needsPreannotation,
  type PreannotationInput,
  suggestionVersions,
} from './preannotation.ts'
import { clickOrigin } from './provenance.ts'

const suggestion = (modelVersion: string): { origin: AnnotationOrigin } => ({
  origin: { type: 'model', modelVersion, score: 0.8 },
})
const base: PreannotationInput = {
  enabled: true,
  readOnly: false,
  status: 'new',
  version: 'v1',
  annotations: [],
  claimedByMe: true,
  alreadyRan: null,
}

describe('pre-annotation', () => {
  it('runs on an image opened through Next that has no suggestion of the current version', () => {
    expect(needsPreannotation(base)).toBe(true)
    expect(needsPreannotation({ ...base, status: 'in_progress' })).toBe(true)
    // A person's drawing or click mask is no suggestion.
    expect(
      needsPreannotation({
        ...base,
        annotations: [{ origin: { type: 'human' } }, { origin: clickOrigin('v1', 2) }],
      }),
    ).toBe(true)
  })

  it('runs again on an image whose suggestions are older than the current version', () => {
    expect(
      needsPreannotation({ ...base, claimedByMe: false, annotations: [suggestion('v0')] }),
    ).toBe(true)
    // Opened from the grid, with no suggestions at all: left alone.
    expect(needsPreannotation({ ...base, claimedByMe: false })).toBe(false)
  })

  it('never runs when off, read only, finished, without a model, or once already', () => {
    expect(needsPreannotation({ ...base, enabled: false })).toBe(false)
    expect(needsPreannotation({ ...base, readOnly: true })).toBe(false)
    expect(needsPreannotation({ ...base, status: 'done' })).toBe(false)
    expect(needsPreannotation({ ...base, status: 'reviewed' })).toBe(false)
    expect(needsPreannotation({ ...base, version: null })).toBe(false)
    expect(needsPreannotation({ ...base, annotations: [suggestion('v1')] })).toBe(false)
    expect(needsPreannotation({ ...base, alreadyRan: 'v1' })).toBe(false)
    expect(needsPreannotation({ ...base, alreadyRan: 'v0' })).toBe(true)
  })

  it('lists the versions whose suggestions a document holds, click masks left out', () => {
    expect([
      ...suggestionVersions([suggestion('v0'), suggestion('v2'), { origin: clickOrigin('v3', 1) }]),
    ]).toEqual(['v0', 'v2'])
  })

  it('says what it does', () => {
    expect(describePreannotation({ phase: 'running', version: 'v1' })).toBe(
      'Pre-annotating with v1…',
    )
    expect(describePreannotation({ phase: 'done', version: 'v1', added: 12 })).toBe(
      '12 suggestions from v1',
    )
    expect(describePreannotation({ phase: 'done', version: 'v1', added: 1 })).toBe(
      '1 suggestion from v1',
    )
  })
})
