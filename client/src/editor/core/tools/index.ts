// The toolbar's tools, in order.
import { BoxTool } from './BoxTool.ts'
import { BrushTool, EraserTool } from './BrushTool.ts'
import { ClickTool } from './ClickTool.ts'
import { PointsTool } from './PointsTool.ts'
import { PolygonTool, PolylineTool } from './PolygonTool.ts'
import { SelectTool } from './SelectTool.ts'
import type { Tool, ToolId } from './Tool.ts'

export const TOOLS: Tool[] = [
  SelectTool,
  ClickTool,
  PolygonTool,
  BoxTool,
  PointsTool,
  PolylineTool,
  BrushTool,
  EraserTool,
]
export const TOOL_BY_ID = Object.fromEntries(TOOLS.map((t) => [t.id, t])) as Record<ToolId, Tool>
export type { Tool, ToolId, ToolPointerEvent } from './Tool.ts'
