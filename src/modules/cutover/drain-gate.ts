// The drain gate's pieces live with the projections (reconciliation settles differences with them too).
export * from '../projection/drain-gate';
