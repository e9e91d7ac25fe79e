// Gradient-masking diagnostics: symptoms that a robust accuracy measured with
// gradient attacks is an overstatement (Athalye et al. 2018, "Obfuscated
// gradients give a false sense of security"; Carlini et al. 2019, "On evaluating
// adversarial robustness", section 5). Each is a pure function of numbers an
// evaluation already has, and returns a Diagnostic whether it fired or not, so a
// report can list the quiet ones too (a check that was never run is absent).
import type { Diagnostic } from './result.js';
import { percent as pts } from './stats.js';

/**
 * A black-box attack (Square, no gradients) breaks points the white-box attacks
 * left robust: with informative gradients it should not. `extraBroken` = points
 * robust after the white-box cascade that the black-box attack broke.
 */
export function blackBoxBeatsWhiteBox(extraBroken: number, n: number, thresholdPoints = 0.2): Diagnostic {
  const fired = (100 * extraBroken) / Math.max(1, n) > thresholdPoints;
  return {
    check: 'black-box-beats-white-box',
    fired,
    message: fired
      ? `the black-box attack broke ${extraBroken} of ${n} points (${pts(extraBroken, n)}) that the gradient attacks left robust (more than ${thresholdPoints} points): gradients are less informative than they should be`
      : `the black-box attack broke ${extraBroken} of ${n} points the gradient attacks left robust (at most ${thresholdPoints} points)`,
  };
}

/**
 * At a radius where any image can be turned into any other (eps 0.95 in Linf),
 * robust accuracy must be about 0; if not, the attack is not following the loss.
 */
export function highEpsNotZero(robust: number, n: number, eps: number, maxAccuracy = 0.05): Diagnostic {
  const fired = robust / Math.max(1, n) > maxAccuracy;
  return {
    check: 'high-eps-not-zero',
    fired,
    message: `robust accuracy at eps ${eps}: ${robust} of ${n} (${pts(robust, n)}); ${fired ? 'above' : 'within'} ${100 * maxAccuracy}%${fired ? ': the attack cannot follow the loss (masked gradients or a bug)' : ''}`,
  };
}

/**
 * The attack's loss, averaged over points, should increase along the
 * iterations of PGD; `trace[k]` = mean loss at iteration k. Fires when the
 * mean of the last quarter is not above the first value by `minRise`.
 */
export function lossNotIncreasing(trace: readonly number[], minRise = 1e-3): Diagnostic {
  if (trace.length < 2) throw new Error(`lossNotIncreasing: need at least 2 iterations, got ${trace.length}`);
  const q = Math.max(1, Math.floor(trace.length / 4));
  const tail = trace.slice(-q).reduce((a, b) => a + b, 0) / q;
  const first = trace[0] as number;
  const fired = !(tail > first + minRise);
  return {
    check: 'loss-not-increasing',
    fired,
    message: `PGD loss ${first.toFixed(4)} at the first iteration, ${tail.toFixed(4)} over the last ${q}${fired ? ': the loss did not increase, the gradient steps are not ascending it' : ''}`,
  };
}

/** Points whose input gradient was exactly zero, or NaN/Inf, at some step. */
export function gradientProblems(zeroPoints: number, nonFinitePoints: number, n: number): Diagnostic {
  const fired = zeroPoints > 0 || nonFinitePoints > 0;
  return {
    check: 'zero-or-nan-gradients',
    fired,
    message: `${zeroPoints} of ${n} points with an all-zero input gradient, ${nonFinitePoints} with NaN/Inf${fired ? ': attacks get no direction there, their robustness is not evidence' : ''}`,
  };
}

/**
 * EOT convergence: robust accuracy (robust[i] points of n) against EOT samples
 * eot[i], ascending. Fires when it still falls past 20 samples: the reported
 * EOT 20 has not converged and a stronger estimate of the gradient breaks more.
 */
export function eotNotConverged(eot: readonly number[], robust: readonly number[], n: number, at = 20): Diagnostic {
  const i = eot.indexOf(at);
  if (i < 0 || eot.length !== robust.length) throw new Error(`eotNotConverged: need EOT ${at} among [${eot.join(', ')}]`);
  const later = robust.slice(i + 1);
  const min = later.length > 0 ? Math.min(...later) : (robust[i] as number);
  const fired = min < (robust[i] as number);
  const table = eot.map((e, j) => `EOT ${e}: ${robust[j]}`).join(', ');
  return {
    check: 'eot-not-converged',
    fired,
    message: `robust points of ${n} by EOT samples: ${table}${fired ? `; still falling after EOT ${at}: the EOT ${at} numbers overstate robustness` : ''}`,
  };
}

/**
 * A transfer attack (adversarial examples made on the undefended classifier)
 * is stronger than the adaptive end-to-end one: the adaptive attack is not
 * finding what exists, typical of masked gradients.
 */
export function transferStronger(transferRobust: number, adaptiveRobust: number, n: number): Diagnostic {
  const fired = transferRobust < adaptiveRobust;
  return {
    check: 'transfer-stronger-than-adaptive',
    fired,
    message: `transfer from the classifier leaves ${transferRobust} of ${n} robust, the adaptive attack ${adaptiveRobust}${fired ? ': the transfer attack is stronger, so the adaptive attack is not using the gradients well' : ''}`,
  };
}
