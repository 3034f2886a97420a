/*
 * recipe.h: the paper's training recipe (PAPER.md, "Training recipe"), the one place its numbers
 * are written. The trainer's defaults, the experiment files' defaults, the steps `mem` and
 * `angle` take and the help texts all read them from here.
 *
 *   SGD with heavy-ball momentum 0.9 and weight decay 2e-4 on conv and FC weights, batch 100,
 *   80,000 steps, learning rate lr0 = 0.1, divided by 10 at 50% and by 100 at 75% of the steps
 *   (0.01 from step 40,000, 0.001 from step 60,000).
 */
#ifndef RB_RECIPE_H
#define RB_RECIPE_H

#define RB_RECIPE_STEPS 80000
#define RB_RECIPE_BATCH 100
#define RB_RECIPE_LR 0.1
#define RB_RECIPE_MOMENTUM 0.9
#define RB_RECIPE_WEIGHT_DECAY 2e-4

/* The learning rate of step s (0-based) of a run of n steps that starts at lr0. */
static inline double rb_recipe_lr_at(double lr0, long s, long n)
{
    if (2 * s < n) return lr0;
    if (4 * s < 3 * n) return lr0 / 10;
    return lr0 / 100;
}

#endif
